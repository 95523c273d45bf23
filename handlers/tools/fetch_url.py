"""``fetch_url``: the bundled example tool. Fetch a page, return readable text.

Safety rules (a model chooses the URL, so the URL is untrusted input):

- only ``http`` and ``https``;
- the host is resolved first and **every** address it resolves to must be public, by runhook's
  own table of the IANA special-purpose registries (``runhook.tools.addresses``, independent
  of the interpreter's patch level): loopback, private, link-local, multicast, reserved,
  documentation, benchmarking, shared (CGNAT) and the other special blocks are refused, IPv4
  and IPv6 alike; IPv4-mapped, NAT64, 6to4 and Teredo addresses are judged by the IPv4
  addresses they embed;
- the connection goes to the address that was checked (the URL's host is kept for the ``Host``
  header and TLS SNI/certificate checks), so a second DNS answer cannot swap in another address;
- redirects are followed by hand, at most ``FETCH_MAX_REDIRECTS``, each one checked the same way;
- at most ``fetch_max_bytes`` are read and the whole fetch, redirects included, gets
  ``fetch_timeout_s``.

``RUNHOOK_FETCH_ALLOW`` lists exceptions: host names (``intranet.example``), ``host:port``,
addresses (``127.0.0.1``) or networks (``10.0.0.0/8``). A refusal raises ``ToolError``, which the
runner hands to the model as an error output.
"""

from __future__ import annotations

import html.parser
import ipaddress
import re
import socket
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urljoin, urlsplit

import httpx2

from runhook.errors import ToolError
from runhook.events import defaults
from runhook.events.config import Settings
from runhook.tools.addresses import IPAddress
from runhook.tools.addresses import refusal as table_refusal

if TYPE_CHECKING:
    from runhook.app import App

Resolver = Callable[[str, int], list[str]]


def system_resolver(host: str, port: int) -> list[str]:
    """Every address ``host`` resolves to (IPv4 and IPv6)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise ToolError(f"cannot resolve host {host!r}: {exc.strerror}") from None
    return sorted({str(info[4][0]) for info in infos})


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be fetched, or None when it is a public address.

    runhook's own table decides (``runhook.tools.addresses``); the interpreter's
    ``is_global`` is a second opinion, so an address either calls non-public is refused.
    """
    why = table_refusal(ip)
    if why is None and not ip.is_global:
        return "not a public address"
    return why


@dataclass(frozen=True)
class AllowList:
    """Hosts, host:port pairs, addresses and networks exempt from the address rules."""

    entries: Sequence[str] = ()

    def allows(self, host: str, port: int, ip: IPAddress) -> bool:
        for entry in self.entries:
            entry = entry.strip().lower()
            if not entry:
                continue
            if entry in (host.lower(), f"{host.lower()}:{port}"):
                return True
            name, _, entry_port = (
                entry.rpartition(":") if entry.count(":") == 1 else (entry, "", "")
            )
            if entry_port and entry_port.isdigit() and int(entry_port) != port:
                continue
            try:
                if ip in ipaddress.ip_network(name or entry, strict=False):
                    return True
            except ValueError:
                continue
        return False


class _TextExtractor(html.parser.HTMLParser):
    SKIP = {"script", "style", "noscript", "template", "svg"}
    BLOCK = {"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "section", "article"}

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.title = ""
        self._skip = 0
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.SKIP:
            self._skip += 1
        elif tag == "title":
            self._in_title = True
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.SKIP and self._skip:
            self._skip -= 1
        elif tag == "title":
            self._in_title = False
        elif tag in self.BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._in_title:
            self.title += data
        elif not self._skip:
            self.parts.append(data)


def html_to_text(markup: str) -> str:
    """Readable text of an HTML page: title first, scripts and styles dropped."""
    parser = _TextExtractor()
    parser.feed(markup)
    parser.close()
    text = re.sub(r"[ \t\r\f\v]+", " ", "".join(parser.parts))
    text = re.sub(r"\s*\n\s*", "\n", text).strip()
    title = parser.title.strip()
    return f"{title}\n\n{text}" if title else text


class Fetcher:
    """The guarded fetch behind the ``fetch_url`` tool.

    Args:
        allow: exceptions to the address rules.
        max_bytes: body bytes read at most.
        timeout_s: budget for the whole fetch.
        resolver: name resolution (injectable for tests).
        transport: httpx2 transport (injectable for tests).
    """

    def __init__(
        self,
        *,
        allow: Sequence[str] = (),
        max_bytes: int = defaults.FETCH_MAX_BYTES,
        timeout_s: float = defaults.FETCH_TIMEOUT_S,
        max_redirects: int = defaults.FETCH_MAX_REDIRECTS,
        resolver: Resolver = system_resolver,
        transport: httpx2.BaseTransport | None = None,
    ) -> None:
        self.allow = AllowList(tuple(allow))
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_redirects = max_redirects
        self.resolver = resolver
        self.transport = transport

    def check(self, url: str) -> tuple[str, str, int, str]:
        """Validate ``url``; return (scheme, host, port, the address to connect to)."""
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise ToolError(f"only http and https URLs can be fetched, not {parts.scheme!r}")
        host = parts.hostname
        if not host:
            raise ToolError(f"URL {url!r} has no host")
        port = parts.port or (443 if parts.scheme == "https" else 80)
        addresses = self.resolver(host, port)
        if not addresses:
            raise ToolError(f"host {host!r} resolves to no address")
        for raw in addresses:
            ip = ipaddress.ip_address(raw.split("%")[0])
            why = refusal(ip)
            if why and not self.allow.allows(host, port, ip):
                raise ToolError(
                    f"refused to fetch {host}: it resolves to {ip}, {why}; add it to "
                    "RUNHOOK_FETCH_ALLOW to allow it"
                )
        return parts.scheme, host, port, addresses[0]

    def fetch(self, url: str) -> str:
        """Fetch ``url`` under the rules; return readable text (truncated at the cap)."""
        deadline = time.monotonic() + self.timeout_s
        with httpx2.Client(
            transport=self.transport, follow_redirects=False, trust_env=False
        ) as client:
            for _ in range(self.max_redirects + 1):
                scheme, host, port, ip = self.check(url)
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise ToolError(f"fetching {url} took longer than {self.timeout_s} s")
                target = httpx2.URL(url).copy_with(host=ip)
                request = client.build_request(
                    "GET",
                    target,
                    headers={
                        "host": host if port in (80, 443) else f"{host}:{port}",
                        "user-agent": "runhook-fetch_url/0.1",
                        "accept": "text/html, text/plain;q=0.9, */*;q=0.5",
                    },
                    timeout=httpx2.Timeout(remaining),
                    extensions={"sni_hostname": host} if scheme == "https" else {},
                )
                try:
                    response = client.send(request, stream=True)
                except httpx2.TimeoutException:
                    raise ToolError(f"fetching {url} took longer than {self.timeout_s} s") from None
                except httpx2.HTTPError as exc:
                    raise ToolError(f"fetching {url} failed: {exc}") from None
                try:
                    if response.is_redirect:
                        location = response.headers.get("location", "")
                        url = urljoin(url, location)
                        continue
                    return self._read(url, response, deadline)
                finally:
                    response.close()
        raise ToolError(f"more than {self.max_redirects} redirects from the URL")

    def _read(self, url: str, response: httpx2.Response, deadline: float) -> str:
        chunks: list[bytes] = []
        size = 0
        cut = False
        try:
            for chunk in response.iter_bytes():
                chunks.append(chunk)
                size += len(chunk)
                if size > self.max_bytes:
                    cut = True
                    break
                if time.monotonic() > deadline:
                    raise ToolError(f"fetching {url} took longer than {self.timeout_s} s")
        except httpx2.TimeoutException:
            raise ToolError(f"fetching {url} took longer than {self.timeout_s} s") from None
        body = b"".join(chunks)[: self.max_bytes]
        text = body.decode(response.encoding or "utf-8", errors="replace")
        if "html" in response.headers.get("content-type", "") or text.lstrip()[:1] == "<":
            text = html_to_text(text)
        prefix = f"HTTP {response.status_code} {url}\n\n" if response.status_code >= 400 else ""
        if cut:
            text += f"\n…[truncated by runhook at {self.max_bytes} bytes]"
        return prefix + text


def make_fetch_url(settings: Settings, **fetcher_options: object) -> Callable[[str], str]:
    """The ``fetch_url`` tool function configured from ``settings``."""
    fetcher = Fetcher(
        allow=settings.fetch_allow,
        max_bytes=settings.fetch_max_bytes,
        timeout_s=settings.fetch_timeout_s,
        **fetcher_options,  # type: ignore[arg-type]
    )

    def fetch_url(url: str) -> str:
        """Fetch a web page and return its readable text.

        Args:
            url: the http(s) URL of the page.
        """
        return fetcher.fetch(url)

    return fetch_url


def register_fetch_url(app: App, **fetcher_options: object) -> None:
    """Register the ``fetch_url`` tool on ``app``, configured from its settings."""
    app.tool(make_fetch_url(app.settings, **fetcher_options))
