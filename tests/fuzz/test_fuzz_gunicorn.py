"""A few fuzz cases against real gunicorn: raw, mutated HTTP requests never get a 5xx and
leave nothing of their bodies or the secret in the server's log."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from random import Random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.fuzz.strategies import CANARY, SECRET, mutations, signed
from tests.plugins.fuzz import CASES, FUZZ
from tests.plugins.gunicorn import Gunicorn

pytestmark = [pytest.mark.fuzz, pytest.mark.gunicorn, pytest.mark.slow]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Gunicorn]:
    """gunicorn with the default app, one worker, a short body timeout."""
    tmp = tmp_path_factory.mktemp("fuzz")
    server = Gunicorn(
        {
            "RUNHOOK_STORE": f"sqlite:///{tmp / 'runhook.db'}",
            "RUNHOOK_WEBHOOK_SECRET": SECRET,
            "RUNHOOK_WORKERS": "1",
            "RUNHOOK_THREADS": "4",
            "RUNHOOK_BODY_TIMEOUT_S": "1",
            "RUNHOOK_LOG_LEVEL": "debug",
            "OPENAI_API_KEY": "sk-unused",
            "OPENAI_BASE_URL": "http://127.0.0.1:9/v1",
        },
        tmp / "gunicorn.log",
    )
    yield server
    log = server.log_path.read_text(errors="replace")
    server.kill()
    assert CANARY not in log and SECRET not in log


def request_bytes(body: bytes, headers: dict[str, str], framing: str) -> bytes:
    """An HTTP/1.1 POST of ``body``: Content-Length, chunked, or chunked with broken framing."""
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    if framing == "length":
        return (
            f"POST /events HTTP/1.1\r\nHost: x\r\n{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
            + body
        )
    chunks = b"%x\r\n%s\r\n0\r\n\r\n" % (len(body), body) if body else b"0\r\n\r\n"
    if framing == "broken":
        chunks = chunks[: len(chunks) // 2]
    start = f"POST /events HTTP/1.1\r\nHost: x\r\n{head}Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
    return start.encode() + chunks


def exchange(server: Gunicorn, data: bytes) -> int:
    """Send ``data``, half-close, and return the status of the answer."""
    with socket.create_connection(("127.0.0.1", server.port), timeout=10) as sock:
        sock.sendall(data)
        sock.shutdown(socket.SHUT_WR)
        reply = b""
        while got := sock.recv(65536):
            reply += got
    return int(reply.split(b" ", 2)[1])


@settings(max_examples=250 if FUZZ else 20)
@given(
    signed(), st.sampled_from(["length", "chunked", "broken"]), st.randoms(use_true_random=False)
)
def test_raw_requests(
    server: Gunicorn, delivery: tuple[bytes, dict[str, str]], framing: str, rnd: Random
) -> None:
    """Raw requests, framed every way, get a JSON 2xx/4xx answer from real gunicorn."""
    body, headers = delivery
    for case in [body, *mutations(body, rnd, 2)]:
        CASES["gunicorn"] += 1
        status = exchange(server, request_bytes(case, headers, framing))
        assert status < 500, status
