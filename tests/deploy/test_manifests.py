"""The container, compose and Kubernetes files parse and agree with the code (no cluster needed).

The checks here are structural, against the code the files configure; schema validation with
the field's own offline validators is in ``test_validators.py``. When kubectl is installed,
the kustomization is also rendered with ``kubectl kustomize``.
"""

from __future__ import annotations

import json
import runpy
import shutil
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest
import yaml

from tests.plugins.deploy import DEPLOY, SECRET_VARIABLES, VARIABLES, load_yaml, settings_from

K8S = DEPLOY / "k8s"


def k8s_docs() -> list[dict[str, Any]]:
    kustomization = load_yaml(K8S / "kustomization.yaml")[0]
    return [doc for name in kustomization["resources"] for doc in load_yaml(K8S / name)]


def of_kind(kind: str) -> list[dict[str, Any]]:
    return [doc for doc in k8s_docs() if doc["kind"] == kind]


def deployment(name: str) -> dict[str, Any]:
    (found,) = [d for d in of_kind("Deployment") if d["metadata"]["name"] == name]
    return found


def plain_env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container.get("env", []) if "value" in e}


def graceful_timeout_s(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> float:
    """gunicorn's graceful_timeout as deploy/gunicorn.conf.py computes it from ``env``."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    conf = runpy.run_path(str(DEPLOY / "gunicorn.conf.py"))
    return float(conf["graceful_timeout"])


def containers() -> Iterator[tuple[str, dict[str, Any], dict[str, Any]]]:
    for dep in of_kind("Deployment"):
        pod = dep["spec"]["template"]["spec"]
        for container in pod["containers"]:
            yield dep["metadata"]["name"], pod, container


def test_every_yaml_file_parses() -> None:
    """Every YAML file under deploy/ is well-formed."""
    files = sorted(DEPLOY.rglob("*.y*ml"))
    assert len(files) >= 4
    for path in files:
        assert load_yaml(path), path


class TestKubernetes:
    def test_server_probes(self) -> None:
        """The server is ready on /readyz and alive on /healthz, both on the port it binds."""
        (_, _, container) = next(c for c in containers() if c[0] == "runhook")
        ports = {p["name"]: p["containerPort"] for p in container["ports"]}
        bind_port = int(settings_from(plain_env(container)).bind.rsplit(":", 1)[1])
        for probe, path in (("readinessProbe", "/readyz"), ("livenessProbe", "/healthz")):
            get = container[probe]["httpGet"]
            assert get["path"] == path
            assert ports.get(get["port"], get["port"]) == bind_port

    def test_grace_period_covers_prestop_and_drain(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """terminationGracePeriodSeconds exceeds the preStop pause plus gunicorn's graceful
        timeout as gunicorn.conf.py derives it from the pod's variables."""
        (_, pod, container) = next(c for c in containers() if c[0] == "runhook")
        command = container["lifecycle"]["preStop"]["exec"]["command"]
        assert command[0] == "sleep"
        graceful = graceful_timeout_s(monkeypatch, plain_env(container))
        assert pod["terminationGracePeriodSeconds"] > float(command[1]) + graceful

    def test_variables_are_known_and_secrets_come_from_secrets(self) -> None:
        """Every variable is one runhook reads, and credentials come from a Secret."""
        for name, _, container in containers():
            env = {e["name"]: e for e in container["env"]}
            assert set(env) <= VARIABLES, name
            settings_from(plain_env(container))
            for var in SECRET_VARIABLES & set(env):
                assert "value" not in env[var], (name, var)
                assert env[var]["valueFrom"]["secretKeyRef"]["name"] == "runhook", (name, var)
            assert {"RUNHOOK_STORE", "RUNHOOK_WEBHOOK_SECRET", "OPENAI_API_KEY"} <= set(env)

    def test_pods_run_unprivileged(self) -> None:
        """Pods run as non-root with a read-only root filesystem and a writable /tmp."""
        for name, pod, container in containers():
            assert pod["securityContext"]["runAsNonRoot"] is True, name
            assert pod["securityContext"]["runAsUser"] != 0, name
            security = container["securityContext"]
            assert security["allowPrivilegeEscalation"] is False, name
            assert security["readOnlyRootFilesystem"] is True, name
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            volumes = {v["name"]: v for v in pod["volumes"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], name
            assert container["resources"]["requests"] and container["resources"]["limits"]

    def test_service_and_budget_select_the_server_pods(self) -> None:
        """The Service and the PodDisruptionBudget select the server pods (and only those),
        and the Service targets a port the container declares."""
        server = deployment("runhook")["spec"]["template"]
        labels = server["metadata"]["labels"]
        (service,) = of_kind("Service")
        assert service["spec"]["selector"].items() <= labels.items()
        poller_labels = deployment("runhook-poller")["spec"]["template"]["metadata"]["labels"]
        assert not service["spec"]["selector"].items() <= poller_labels.items()
        names = {p["name"] for p in server["spec"]["containers"][0]["ports"]}
        assert {p["targetPort"] for p in service["spec"]["ports"]} <= names
        (budget,) = of_kind("PodDisruptionBudget")
        assert budget["spec"]["selector"]["matchLabels"].items() <= labels.items()
        assert budget["spec"]["minAvailable"] < deployment("runhook")["spec"]["replicas"]

    def test_deployment_selectors_match_their_pods(self) -> None:
        """Each Deployment's selector matches its own pod template."""
        for dep in of_kind("Deployment"):
            labels = dep["spec"]["template"]["metadata"]["labels"]
            assert dep["spec"]["selector"]["matchLabels"].items() <= labels.items()

    def test_poller_is_its_own_deployment_posting_to_the_service(self) -> None:
        """The poller runs `runhook poll` in its own Deployment, posting to the Service."""
        (container,) = deployment("runhook-poller")["spec"]["template"]["spec"]["containers"]
        command = container["command"]
        assert command[:2] == ["runhook", "poll"]
        url = command[command.index("--url") + 1]
        (service,) = of_kind("Service")
        assert url == f"http://{service['metadata']['name']}/events"

    @pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
    def test_kustomization_renders(self) -> None:
        """`kubectl kustomize deploy/k8s` renders both Deployments, the Service and the PDB."""
        out = subprocess.run(
            ["kubectl", "kustomize", str(K8S)],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert out.returncode == 0, out.stderr
        kinds = sorted(d["kind"] for d in yaml.safe_load_all(out.stdout) if d)
        assert kinds == ["Deployment", "Deployment", "PodDisruptionBudget", "Service"]


class TestCompose:
    def services(self) -> dict[str, Any]:
        services: dict[str, Any] = load_yaml(DEPLOY / "compose.yaml")[0]["services"]
        return services

    def test_runhook_services_share_redis_with_known_variables(self) -> None:
        """Two servers and a poller use the Redis service as store, with variables runhook
        reads; secrets come from the env file, never from the compose file."""
        services = self.services()
        runhook = {n: s for n, s in services.items() if s.get("image", "").startswith("runhook")}
        assert sorted(runhook) == ["poller", "runhook-a", "runhook-b"]
        for name, service in runhook.items():
            env = service["environment"]
            assert env["RUNHOOK_STORE"] == "redis://redis:6379/0", name
            settings_from(env)
            assert not (SECRET_VARIABLES - {"RUNHOOK_STORE"}) & set(env), name
            assert service["env_file"] == [".env"], name
            assert service["build"]["dockerfile"] == "deploy/Dockerfile", name
            assert (DEPLOY / service["build"]["context"] / "deploy" / "Dockerfile").is_file()
            assert set(service["depends_on"]) <= set(services), name
        assert services["redis"]["image"].startswith("redis:")

    def test_servers_stop_after_their_drain(self, monkeypatch: pytest.MonkeyPatch) -> None:
        """Each server's stop_grace_period exceeds its gunicorn graceful timeout."""
        for name in ("runhook-a", "runhook-b"):
            service = self.services()[name]
            graceful = graceful_timeout_s(monkeypatch, service["environment"])
            assert float(service["stop_grace_period"].rstrip("s")) > graceful, name

    def test_poller_posts_to_the_servers_alias(self) -> None:
        """The poller runs `runhook poll --url` against the alias both servers answer on."""
        services = self.services()
        command = services["poller"]["command"]
        assert command[:2] == ["runhook", "poll"]
        host = command[command.index("--url") + 1].split("/")[2].split(":")[0]
        for name in ("runhook-a", "runhook-b"):
            assert host in services[name]["networks"]["default"]["aliases"], name


class TestDockerfile:
    def instructions(self) -> list[tuple[str, str]]:
        text = (DEPLOY / "Dockerfile").read_text().replace("\\\n", " ")
        lines = [ln.strip() for ln in text.splitlines() if ln.strip() and ln[0] != "#"]
        return [(ln.split(None, 1)[0].upper(), ln.split(None, 1)[1]) for ln in lines]

    def test_runs_gunicorn_as_non_root(self) -> None:
        """The image runs gunicorn with deploy/gunicorn.conf.py on deploy.wsgi:app as a
        non-root user."""
        steps = self.instructions()
        assert steps[0] == ("FROM", "python:3.11-slim")
        user = [arg for op, arg in steps if op == "USER"][-1]
        assert user.split(":")[0] not in {"0", "root"}
        cmd = [json.loads(arg) for op, arg in steps if op == "CMD"][-1]
        assert cmd == ["gunicorn", "-c", "deploy/gunicorn.conf.py", "deploy.wsgi:app"]

    def test_health_check_and_port_match_the_bind(self) -> None:
        """The HEALTHCHECK probes /healthz on the port the image binds and exposes."""
        steps = self.instructions()
        env = dict(pair.split("=", 1) for op, arg in steps if op == "ENV" for pair in arg.split())
        port = settings_from(env).bind.rsplit(":", 1)[1]
        assert [arg for op, arg in steps if op == "EXPOSE"] == [port]
        check = [arg for op, arg in steps if op == "HEALTHCHECK"][-1]
        assert f"127.0.0.1:{port}/healthz" in check

    def test_build_context_keeps_only_the_package(self) -> None:
        """The Dockerfile's ignore file admits what the image copies and nothing else."""
        ignore = (DEPLOY / "Dockerfile.dockerignore").read_text().split()
        assert "**" in ignore
        copied = [
            src for op, arg in self.instructions() if op == "COPY" for src in arg.split()[:-1]
        ]
        for source in copied:
            assert f"!{source}" in ignore or f"!{source}/**" in ignore, source


class TestScraping:
    def test_server_pods_are_scraped_on_their_metrics_port(self) -> None:
        """The server pods enable /metrics and carry the prometheus.io annotations pointing
        at the port gunicorn binds."""
        pod = deployment("runhook")["spec"]["template"]
        annotations = pod["metadata"]["annotations"]
        assert annotations["prometheus.io/scrape"] == "true"
        assert annotations["prometheus.io/path"] == "/metrics"
        (container,) = pod["spec"]["containers"]
        env = plain_env(container)
        assert settings_from(env).metrics
        assert env["RUNHOOK_BIND"].rpartition(":")[2] == annotations["prometheus.io/port"]

    def test_the_service_monitor_selects_the_service_and_sends_the_token(self) -> None:
        """servicemonitor.yaml scrapes the Service's http port with the admin token."""
        (monitor,) = load_yaml(K8S / "servicemonitor.yaml")
        (service,) = of_kind("Service")
        assert monitor["spec"]["selector"]["matchLabels"] == service["metadata"]["labels"]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
        assert endpoint["path"] == "/metrics"
        assert endpoint["authorization"]["credentials"] == {
            "name": "runhook",
            "key": "admin-token",
            "optional": True,
        }
