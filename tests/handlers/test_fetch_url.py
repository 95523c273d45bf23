"""fetch_url's address guard, redirects, size and time caps, against real local servers."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from runhook.tools.fetch_url import Fetcher, html_to_text
from runhook.tools.runner import ToolError


class Pages(BaseHTTPRequestHandler):
    def do_GET(self) -> None:  # noqa: N802
        if self.path == "/to-private":
            self.send_response(302)
            self.send_header("location", "http://10.1.2.3/secret")
            self.end_headers()
            return
        if self.path == "/to-page":
            self.send_response(301)
            self.send_header("location", "/page")
            self.end_headers()
            return
        if self.path == "/slow":
            time.sleep(3)
        body = b"<html><title>T</title><style>x{}</style><p>Hello <b>there</b></p></html>"
        if self.path == "/big":
            body = b"a" * 100_000
        self.send_response(200)
        self.send_header("content-type", "text/html")
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        try:
            self.wfile.write(body)
        except BrokenPipeError:
            pass

    def log_message(self, *args: object) -> None:
        return None


@pytest.fixture
def site() -> Iterator[str]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), Pages)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"127.0.0.1:{server.server_port}"
    server.shutdown()
    server.server_close()


class TestRefusals:
    @pytest.mark.parametrize(
        ("url", "why"),
        [
            ("http://127.0.0.1/", "loopback"),
            ("http://[::1]/", "loopback"),
            ("http://10.0.0.1/", "private"),
            ("http://192.168.1.1/", "private"),
            ("http://172.16.0.1/", "private"),
            ("http://[fd00::1]/", "private"),
            ("http://169.254.169.254/latest/meta-data", "link-local"),
            ("http://[fe80::1]/", "link-local"),
            ("http://224.0.0.1/", "multicast"),
            ("http://[ff02::1]/", "multicast"),
            ("http://240.0.0.1/", "reserved"),
            ("http://0.0.0.0/", "unspecified"),
            ("http://100.64.0.1/", r"shared \(CGNAT\)"),
            ("http://[::ffff:127.0.0.1]/", "loopback"),
        ],
    )
    def test_non_public_addresses_are_refused(self, url: str, why: str) -> None:
        """Each non-public address family is refused, naming the family and the allow-list."""
        with pytest.raises(ToolError, match=why) as exc:
            Fetcher().fetch(url)
        assert "RUNHOOK_FETCH_ALLOW" in str(exc.value)

    def test_a_name_resolving_to_loopback_is_refused(self) -> None:
        """`localhost` is refused after resolution, not by its name."""
        with pytest.raises(ToolError, match="resolves to .*loopback"):
            Fetcher().fetch("http://localhost/")

    def test_dns_answer_is_checked_not_the_name(self) -> None:
        """A public-looking name whose resolver answers a private address is refused."""
        fetcher = Fetcher(resolver=lambda host, port: ["10.9.8.7"])
        with pytest.raises(ToolError, match="private"):
            fetcher.fetch("http://innocent.example/")

    def test_only_http_and_https(self) -> None:
        """Other schemes are refused."""
        with pytest.raises(ToolError, match="only http and https"):
            Fetcher().fetch("file:///etc/passwd")


class TestAllowed:
    def test_allow_listed_page_is_fetched_as_text(self, site: str) -> None:
        """An allow-listed host:port is fetched and its HTML reduced to text."""
        assert Fetcher(allow=[site]).fetch(f"http://{site}/page") == "T\n\nHello there"

    def test_redirect_within_allowed_host_is_followed(self, site: str) -> None:
        """A redirect to an allowed address is followed."""
        assert "Hello" in Fetcher(allow=[site]).fetch(f"http://{site}/to-page")

    def test_redirect_to_private_address_is_refused(self, site: str) -> None:
        """A redirect from an allowed host to a private address is checked and refused."""
        with pytest.raises(ToolError, match="10.1.2.3.*private"):
            Fetcher(allow=[site]).fetch(f"http://{site}/to-private")

    def test_allow_list_is_port_specific(self, site: str) -> None:
        """Allowing host:port does not allow the same host on another port."""
        host, port = site.split(":")
        with pytest.raises(ToolError, match="loopback"):
            Fetcher(allow=[f"{host}:{int(port) + 1}"]).fetch(f"http://{site}/page")

    def test_oversized_body_is_cut_with_a_marker(self, site: str) -> None:
        """A body over the cap is read only up to it and marked as truncated."""
        text = Fetcher(allow=[site], max_bytes=1000).fetch(f"http://{site}/big")
        assert text.startswith("a" * 1000) and text.endswith("[truncated by runhook at 1000 bytes]")

    def test_slow_server_times_out(self, site: str) -> None:
        """A server slower than the budget gives a timeout error, not a hang."""
        with pytest.raises(ToolError, match="took longer than 0.5 s"):
            Fetcher(allow=[site], timeout_s=0.5).fetch(f"http://{site}/slow")


def test_html_to_text_drops_scripts() -> None:
    """Scripts and styles are dropped; the title comes first."""
    assert html_to_text("<title>A</title><script>x()</script><p>b</p>") == "A\n\nb"
