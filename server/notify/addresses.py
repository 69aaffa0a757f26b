"""Whether a webhook URL reaches a public address: a manager could otherwise point a
subscription at the server's own network (an admin page, a metadata service) and read
the start of its answers in the delivery log.

Checked when a subscription is made or changed, and again before each send (a name can
resolve elsewhere later). An IPv6 address that embeds an IPv4 one (IPv4-mapped,
IPv4-compatible, NAT64, 6to4) is judged by the embedded address too.

Known limit: ``requests`` resolves the name again when it connects, so a name whose
DNS answer changes between the check and the connection (DNS rebinding) can still
reach a private address; docs/webhooks.md says so.

``WEBHOOK_PRIVATE_ADDRESSES`` allows them (a receiver on the center's own network, the
demo, tests).
"""

from __future__ import annotations

import ipaddress
import socket
from urllib.parse import urlsplit


def private_address(url: str) -> str | None:
    """The first loopback, private, link-local or otherwise non-public address ``url``'s
    host resolves to, or None when all are public. A host that does not resolve is
    reported as such (``"unresolvable"``)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)
    except (socket.gaierror, UnicodeError, OSError):
        return "unresolvable"
    for info in infos:
        address = ipaddress.ip_address(info[4][0].split("%", 1)[0])
        found = non_public(address)
        if found is not None:
            return found
    return None


# IPv6 forms that carry an IPv4 address a gateway may forward to: NAT64 (RFC 6052),
# 6to4 (RFC 3056) and IPv4-compatible (deprecated, still routed by some stacks).
NAT64 = ipaddress.ip_network("64:ff9b::/96")
SIX_TO_FOUR = ipaddress.ip_network("2002::/16")
IPV4_COMPATIBLE = ipaddress.ip_network("::/96")


def non_public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """The address as text if it, or the IPv4 address embedded in it, is not public."""
    if not address.is_global:
        return str(address)
    if isinstance(address, ipaddress.IPv6Address):
        for embedded in _embedded_ipv4(address):
            if not embedded.is_global:
                return f"{address} (embedding {embedded})"
    return None


def _embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    found = []
    if address.ipv4_mapped is not None:
        found.append(address.ipv4_mapped)
    if address.sixtofour is not None:
        found.append(address.sixtofour)
    if address in NAT64 or address in IPV4_COMPATIBLE:
        found.append(ipaddress.IPv4Address(int(address) & 0xFFFFFFFF))
    return found
