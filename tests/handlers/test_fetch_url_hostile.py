"""fetch_url against a corpus of hostile URLs: each refused directly and after a redirect from
an allowed first hop, whatever the interpreter's own address tables say."""

from __future__ import annotations

import ipaddress
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import quote, unquote

import pytest

from runhook.tools.addresses import refusal
from runhook.tools.fetch_url import Fetcher
from runhook.tools.runner import ToolError

#: (URL, what the refusal must say); the host is an address literal or resolves to one offline
HOSTILE = [
    ("http://127.0.0.1/", "loopback"),
    ("http://127.1/", "loopback"),
    ("http://2130706433/", "loopback"),
    ("http://0x7f000001/", "loopback"),
    ("http://localhost:8080/", "loopback"),
    ("http://[::1]/", "loopback"),
    ("http://0.0.0.0/", "unspecified"),
    ("http://0.1.2.3/", "this-network"),
    ("http://[::]/", "unspecified"),
    ("http://10.0.0.1/", "private"),
    ("http://172.31.255.255/", "private"),
    ("http://192.168.1.1/", "private"),
    ("http://100.64.0.1/", "CGNAT"),
    ("http://169.254.169.254/latest/meta-data/", "link-local"),
    ("http://192.0.0.192/", "IETF protocol"),
    ("http://192.0.0.8/", "IETF protocol"),
    ("http://192.0.2.1/", "documentation"),
    ("http://192.88.99.1/", "6to4 relay"),
    ("http://198.18.0.1/", "benchmarking"),
    ("http://198.19.255.254/", "benchmarking"),
    ("http://198.51.100.7/", "documentation"),
    ("http://203.0.113.9/", "documentation"),
    ("http://224.0.0.251/", "multicast"),
    ("http://240.0.0.1/", "reserved"),
    ("http://255.255.255.255/", "broadcast"),
    ("http://[::ffff:127.0.0.1]/", "IPv4-mapped address embedding 127.0.0.1"),
    ("http://[::ffff:a9fe:a9fe]/", "IPv4-mapped address embedding 169.254.169.254"),
    ("http://[::127.0.0.1]/", "IPv4-compatible"),
    ("http://[::a9fe:a9fe]/", "IPv4-compatible"),
    ("http://[2002:7f00:1::1]/", "6to4 address embedding 127.0.0.1"),
    ("http://[2002:a9fe:a9fe::1]/", "6to4 address embedding 169.254.169.254"),
    ("http://[2002:c0a8:101::1]/", "6to4 address embedding 192.168.1.1"),
    ("http://[2002:a00:1::]/", "6to4 address embedding 10.0.0.1"),
    ("http://[2001:0:4136:e378:8000:63bf:80ff:fffe]/", "Teredo address embedding 127.0.0.1"),
    ("http://[2001:0:7f00:1::]/", "Teredo address embedding 127.0.0.1"),
    ("http://[2001:0:808:808::5601:5601]/", "Teredo address embedding 169.254.169.254"),
    ("http://[64:ff9b::7f00:1]/", "NAT64 address embedding 127.0.0.1"),
    ("http://[64:ff9b::a9fe:a9fe]/", "NAT64 address embedding 169.254.169.254"),
    ("http://[64:ff9b::c0a8:101]/", "NAT64 address embedding 192.168.1.1"),
    ("http://[64:ff9b:1::a00:1]/", "local-use NAT64"),
    ("http://[fe80::1]/", "link-local"),
    ("http://[fec0::1]/", "site-local"),
    ("http://[fd00::1]/", "unique local"),
    ("http://[fc00::1]/", "unique local"),
    ("http://[ff02::1]/", "multicast"),
    ("http://[100::1]/", "discard-only"),
    ("http://[2001:db8::1]/", "documentation"),
    ("http://[3fff::1]/", "documentation"),
    ("http://[2001:2::1]/", "IETF protocol"),
    ("http://[2001:10::1]/", "IETF protocol"),
    ("http://[5f00::1]/", "SRv6"),
    ("http://[4000::1]/", "outside global unicast"),
    ("http://[::2]/", "IPv4-compatible"),
]

PUBLIC = ["8.8.8.8", "1.1.1.1", "2606:4700:4700::1111", "2002:808:808::1", "64:ff9b::808:808"]


class Redirector(BaseHTTPRequestHandler):
    """``/to/<quoted URL>`` answers 302 to that URL."""

    def do_GET(self) -> None:  # noqa: N802
        self.send_response(302)
        self.send_header("location", unquote(self.path.removeprefix("/to/")))
        self.send_header("content-length", "0")
        self.end_headers()

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture(scope="module")
def hop() -> Iterator[str]:
    """An allowed first hop that redirects wherever it is told."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), Redirector)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


def test_corpus_is_large_enough() -> None:
    """The corpus holds at least 40 hostile URLs."""
    assert len(HOSTILE) >= 40


@pytest.mark.parametrize(("url", "why"), HOSTILE, ids=[u for u, _ in HOSTILE])
def test_refused_directly(url: str, why: str) -> None:
    """Each hostile URL is refused before any connection, naming why."""
    with pytest.raises(ToolError, match="refused to fetch") as exc:
        Fetcher().fetch(url)
    assert why in str(exc.value)


@pytest.mark.parametrize(("url", "why"), HOSTILE, ids=[u for u, _ in HOSTILE])
def test_refused_after_a_redirect(hop: str, url: str, why: str) -> None:
    """A redirect from an allowed first hop to each hostile URL is refused too."""
    with pytest.raises(ToolError, match="refused to fetch") as exc:
        Fetcher(allow=[hop]).fetch(f"http://{hop}/to/{quote(url, safe='')}")
    assert why in str(exc.value)


@pytest.mark.parametrize("address", PUBLIC)
def test_public_addresses_pass_the_table(address: str) -> None:
    """Public addresses, and embedded forms of public IPv4 addresses, are not refused."""
    assert refusal(ipaddress.ip_address(address)) is None
