"""Who a client is, for the per-client caps.

A client is the address the request came from: REMOTE_ADDR, which ProxyFix has
already replaced with the address the nearest trusted proxy saw when
``NOVBE_TRUSTED_PROXIES`` is set (server/connections/__init__.py). With no trusted
proxy a forged X-Forwarded-For changes nothing. An IPv6 client's whole /64 counts as
one client: a single host usually holds a /64 and can pick any address in it.
"""

from __future__ import annotations

import ipaddress
from functools import lru_cache
from typing import Any


def client_key(environ: dict[str, Any]) -> str:
    """The key a client's connections are counted under."""
    return _key(environ.get("REMOTE_ADDR") or "")


@lru_cache(maxsize=4096)
def _key(remote_addr: str) -> str:
    try:
        address = ipaddress.ip_address(remote_addr.split("%", 1)[0])
    except ValueError:
        return remote_addr  # not an IP address (a Unix socket): one client
    if isinstance(address, ipaddress.IPv6Address):
        if address.ipv4_mapped is not None:
            return str(address.ipv4_mapped)
        return str(ipaddress.IPv6Network((address, 64), strict=False))
    return str(address)
