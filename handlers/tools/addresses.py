"""Which IP addresses ``fetch_url`` may connect to: our own table, not the interpreter's.

``ipaddress``'s ``is_private``/``is_global`` tables changed between Python patch releases (3.11.7
missed ``192.0.0.0/24``'s details, ``192.88.99.0/24``, ``fec0::/10`` and every embedded form),
so the rules are written out here from the IANA special-purpose address registries:

- IPv4: every block whose "globally reachable" is false, plus multicast, the 6to4 relay anycast
  block and the broadcast address (``V4_REFUSED``);
- IPv6: only global unicast (``2000::/3``) is public, less its special blocks (``V6_REFUSED``);
- forms that carry an IPv4 address are judged by it: IPv4-mapped (``::ffff:0:0/96``), NAT64
  (``64:ff9b::/96``), 6to4 (``2002::/16``, bits 16-48) and Teredo (``2001::/32``: the server in
  bits 32-64, the client as the inverted low 32 bits; both must be public). IPv4-compatible
  (``::/96``, deprecated) and local-use NAT64 (``64:ff9b:1::/48``) are refused outright.

No IO.
"""

from __future__ import annotations

import ipaddress

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_V4 = ipaddress.IPv4Network
_V6 = ipaddress.IPv6Network

#: IPv4 blocks that are not public, most specific first (name, network)
V4_REFUSED: tuple[tuple[str, ipaddress.IPv4Network], ...] = (
    ("unspecified", _V4("0.0.0.0/32")),
    ("this-network", _V4("0.0.0.0/8")),
    ("private", _V4("10.0.0.0/8")),
    ("shared (CGNAT)", _V4("100.64.0.0/10")),
    ("loopback", _V4("127.0.0.0/8")),
    ("link-local", _V4("169.254.0.0/16")),
    ("private", _V4("172.16.0.0/12")),
    ("IETF protocol assignment", _V4("192.0.0.0/24")),
    ("documentation (TEST-NET-1)", _V4("192.0.2.0/24")),
    ("6to4 relay anycast", _V4("192.88.99.0/24")),
    ("private", _V4("192.168.0.0/16")),
    ("benchmarking", _V4("198.18.0.0/15")),
    ("documentation (TEST-NET-2)", _V4("198.51.100.0/24")),
    ("documentation (TEST-NET-3)", _V4("203.0.113.0/24")),
    ("multicast", _V4("224.0.0.0/4")),
    ("broadcast", _V4("255.255.255.255/32")),
    ("reserved", _V4("240.0.0.0/4")),
)

_GLOBAL_UNICAST = _V6("2000::/3")
_IETF = _V6("2001::/23")
#: globally reachable blocks inside 2001::/23 (IANA registry)
_IETF_GLOBAL = tuple(
    _V6(n)
    for n in (
        "2001:1::1/128",
        "2001:1::2/128",
        "2001:1::3/128",
        "2001:3::/32",
        "2001:4:112::/48",
        "2001:20::/28",
        "2001:30::/28",
    )
)
_TEREDO = _V6("2001::/32")
_SIX_TO_FOUR = _V6("2002::/16")
_MAPPED = _V6("::ffff:0:0/96")
_NAT64 = _V6("64:ff9b::/96")

#: IPv6 blocks that are not public, most specific first (checked before the 2000::/3 rule)
V6_REFUSED: tuple[tuple[str, ipaddress.IPv6Network], ...] = (
    ("unspecified", _V6("::/128")),
    ("loopback", _V6("::1/128")),
    ("IPv4-compatible (deprecated)", _V6("::/96")),
    ("local-use NAT64", _V6("64:ff9b:1::/48")),
    ("discard-only", _V6("100::/64")),
    ("documentation", _V6("2001:db8::/32")),
    ("documentation", _V6("3fff::/20")),
    ("old 6bone", _V6("3ffe::/16")),
    ("SRv6 SID", _V6("5f00::/16")),
    ("private (unique local)", _V6("fc00::/7")),
    ("link-local", _V6("fe80::/10")),
    ("site-local (deprecated)", _V6("fec0::/10")),
    ("multicast", _V6("ff00::/8")),
)


def _embedded(ip: ipaddress.IPv6Address) -> tuple[str, list[ipaddress.IPv4Address]] | None:
    """The IPv4 addresses an IPv6 address carries, with the form's name; None if none."""
    value = int(ip)
    if ip in _MAPPED:
        return "IPv4-mapped", [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in _NAT64:
        return "NAT64", [ipaddress.IPv4Address(value & 0xFFFFFFFF)]
    if ip in _SIX_TO_FOUR:
        return "6to4", [ipaddress.IPv4Address((value >> 80) & 0xFFFFFFFF)]
    if ip in _TEREDO:
        server = ipaddress.IPv4Address((value >> 64) & 0xFFFFFFFF)
        client = ipaddress.IPv4Address(~value & 0xFFFFFFFF)
        return "Teredo", [server, client]
    return None


def _a(name: str) -> str:
    return f"{'an' if name[0] in 'aeiouAEIOU' else 'a'} {name} address"


def _refusal_v4(ip: ipaddress.IPv4Address) -> str | None:
    for name, network in V4_REFUSED:
        if ip in network:
            return _a(name)
    return None


def refusal(ip: IPAddress) -> str | None:
    """Why ``ip`` may not be fetched, or None when it is a public address."""
    if isinstance(ip, ipaddress.IPv4Address):
        return _refusal_v4(ip)
    embedded = _embedded(ip)
    if embedded is not None:
        form, inner = embedded
        for v4 in inner:
            why = _refusal_v4(v4)
            if why:
                return f"a {form} address embedding {v4}, {why}"
        return None
    for name, network in V6_REFUSED:
        if ip in network:
            return _a(name)
    if ip not in _GLOBAL_UNICAST:
        return "a reserved address (outside global unicast 2000::/3)"
    if ip in _IETF and not any(ip in n for n in _IETF_GLOBAL):
        return "an IETF protocol assignment address"
    return None
