"""Real gunicorn against oversized, slow, truncated and badly framed bodies: every client reads
a JSON answer (413 / 408 / 400), the worker never buffers past the limit, no thread is held."""

from __future__ import annotations

import json
import select
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx2
import pytest

from runhook.events.signing import sign_headers
from tests.plugins.gunicorn import Gunicorn

pytestmark = [pytest.mark.gunicorn, pytest.mark.slow]

SECRET = "whsec_cnVuaG9vay1ob3N0aWxlLWJvZGllcy0zMi1ieXRlcw=="
MB = 1_000_000
SIZES = [int(1.1 * MB), 5 * MB, 50 * MB]
BODY_TIMEOUT_S = 2.0
THREADS = 4


def start(tmp: Path) -> Gunicorn:
    """One gunicorn worker of four threads, a 2 s body timeout, the default 1 MiB limit."""
    return Gunicorn(
        {
            "RUNHOOK_APP": "tests.scenarios.apps.counting:app",
            "RUNHOOK_STORE": f"sqlite:///{tmp / 'runhook.db'}",
            "RUNHOOK_WEBHOOK_SECRET": SECRET,
            "RUNHOOK_WORKERS": "1",
            "RUNHOOK_THREADS": str(THREADS),
            "RUNHOOK_BODY_TIMEOUT_S": str(BODY_TIMEOUT_S),
            "RUNHOOK_COUNT_FILE": str(tmp / "count.txt"),
        },
        tmp / "gunicorn.log",
    )


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """A server shared by the tests of this module."""
    server = start(tmp_path_factory.mktemp("bodies"))
    yield server
    server.kill()


def peak_rss_kb(server: Gunicorn) -> int:
    """The worker's peak resident set (VmHWM), in kB."""
    (pid,) = server.worker_pids()
    status = Path(f"/proc/{pid}/status").read_text()
    return int(next(line for line in status.splitlines() if line.startswith("VmHWM")).split()[1])


def pieces(size: int, piece: int = 256 * 1024) -> Iterator[bytes]:
    """``size`` bytes of JSON-ish filler in pieces (httpx sends an iterator chunked)."""
    block = b"x" * piece
    while size > 0:
        yield block[: min(piece, size)]
        size -= piece


def raw(
    server: Gunicorn, request: bytes, *, shut_write: bool = False
) -> tuple[int, dict[str, str], bytes]:
    """Send raw bytes, read until the server closes; return status, headers and body."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=15) as sock:
        sock.sendall(request)
        if shut_write:
            sock.shutdown(socket.SHUT_WR)
        data = b""
        while b"\r\n\r\n" not in data or len(data) < data.index(b"\r\n\r\n") + 4 + _length(data):
            got = sock.recv(65536)
            if not got:
                break
            data += got
    return _parse(data)


def _length(data: bytes) -> int:
    head = data.split(b"\r\n\r\n", 1)[0].decode("latin-1").lower()
    for line in head.split("\r\n"):
        if line.startswith("content-length:"):
            return int(line.split(":", 1)[1])
    return 1 << 30


def _parse(data: bytes) -> tuple[int, dict[str, str], bytes]:
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def post_head(length: int | None = None) -> bytes:
    framing = f"Content-Length: {length}" if length is not None else "Transfer-Encoding: chunked"
    return (
        f"POST /events HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{framing}\r\n\r\n"
    ).encode()


class TestOversized:
    @pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
    @pytest.mark.parametrize("size", SIZES, ids=["1.1MB", "5MB", "50MB"])
    def test_httpx_reads_a_413(self, server: Gunicorn, size: int, chunked: bool) -> None:
        """An oversized signed POST, declared or chunked, gets a JSON 413 (never a reset)."""
        body = b"x" * size
        headers = sign_headers(SECRET, body, msg_id=f"msg_big_{size}_{chunked}")
        response = httpx2.post(
            f"{server.url}/events",
            content=pieces(size) if chunked else body,
            headers=headers,
            timeout=60,
            trust_env=False,
        )
        assert response.status_code == 413
        assert response.json()["error"]["code"] == "payload_too_large"

    @pytest.mark.parametrize("chunked", [False, True], ids=["length", "chunked"])
    @pytest.mark.parametrize("size", SIZES, ids=["1.1MB", "5MB", "50MB"])
    def test_curl_reads_a_413(
        self, server: Gunicorn, tmp_path: Path, size: int, chunked: bool
    ) -> None:
        """curl posting an oversized file, declared or chunked, reads the JSON 413."""
        path = tmp_path / "body.json"
        path.write_bytes(b"x" * size)
        framing = ["-H", "Transfer-Encoding: chunked"] if chunked else []
        result = subprocess.run(
            ["curl", "-sS", "-o", "-", "-w", "\n%{http_code}", "--data-binary", f"@{path}"]
            + ["-H", "Content-Type: application/json", *framing, f"{server.url}/events"],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert result.returncode == 0, result.stderr
        body, status = result.stdout.rsplit("\n", 1)
        assert status == "413" and json.loads(body)["error"]["code"] == "payload_too_large"

    def test_repeated_just_over_the_limit_always_413(self, server: Gunicorn) -> None:
        """Twenty 1.2 MB POSTs in a row each get their 413 (the race the issue measured)."""
        body = b"x" * int(1.2 * MB)
        with ThreadPoolExecutor(THREADS) as pool:
            statuses = list(
                pool.map(
                    lambda _: (
                        httpx2.post(
                            f"{server.url}/events", content=body, timeout=30, trust_env=False
                        ).status_code
                    ),
                    range(20),
                )
            )
        assert statuses == [413] * 20

    def test_chunked_50mb_is_not_buffered(self, tmp_path: Path) -> None:
        """A 50 MB chunked body raises a fresh worker's peak memory by far less than its size."""
        server = start(tmp_path)
        try:
            url = f"{server.url}/events"
            httpx2.post(url, content=pieces(2 * MB), timeout=60, trust_env=False)
            before = peak_rss_kb(server)
            for _ in range(2):
                response = httpx2.post(url, content=pieces(50 * MB), timeout=60, trust_env=False)
                assert response.status_code == 413
            grown = peak_rss_kb(server) - before
        finally:
            server.kill()
        assert grown < 16_000


class TestBrokenFraming:
    @pytest.mark.parametrize(
        ("request_bytes", "shut"),
        [
            (post_head() + b"zz\r\nabc\r\n0\r\n\r\n", False),
            (post_head() + b"5\r\nhello\r\n", True),
            (post_head() + b"3\r\nhello\r\n0\r\n\r\n", False),
            (post_head() + b"5\r\nhello\r\n0\r\n", True),
            (post_head(1000) + b'{"id": "evt_', True),
        ],
        ids=["bad-size", "no-last-chunk", "chunk-longer", "no-trailer-end", "short-length"],
    )
    def test_json_400(self, server: Gunicorn, request_bytes: bytes, shut: bool) -> None:
        """Broken chunked framing or a body shorter than declared gets a JSON 400, not a 500."""
        status, headers, body = raw(server, request_bytes, shut_write=shut)
        assert status == 400
        assert headers["content-type"] == "application/json"
        error = json.loads(body)["error"]
        assert error["code"] == "unreadable_body"
        assert "hello" not in error["message"] and "evt_" not in error["message"]


class TestSlowSender:
    def test_trickle_gets_408_and_frees_the_threads(self, server: Gunicorn) -> None:
        """As many 1-byte-a-second senders as threads each get a 408; then a request is served."""
        results: list[int] = []

        def trickle() -> None:
            with socket.create_connection(("127.0.0.1", server.port), timeout=30) as sock:
                sock.sendall(post_head(100))
                for _ in range(100):
                    if select.select([sock], [], [], 0.5)[0]:
                        break  # the server answered
                    sock.sendall(b"x")
                data = b""
                while got := sock.recv(65536):
                    data += got
            results.append(_parse(data)[0])

        started = time.monotonic()
        threads = [threading.Thread(target=trickle) for _ in range(THREADS)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(30)
        assert results == [408] * THREADS
        assert time.monotonic() - started < BODY_TIMEOUT_S + 6
        assert httpx2.get(f"{server.url}/healthz", timeout=5, trust_env=False).status_code == 200
