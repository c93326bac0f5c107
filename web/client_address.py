"""Which client sent this request: the address throttles and tracking limits count against.

Behind a reverse proxy every connection comes from the proxy, so one guesser would throttle everyone.
Each trusted proxy appends the address it was connected from to X-Forwarded-For; with
LIKEWISE_TRUSTED_PROXIES = n the client is the n-th entry from the right, the last one a proxy we
trust wrote. Entries left of it were written by the client and are never believed; with 0 (the
default) the header is ignored altogether, so a client cannot claim a new address per request.
"""

from __future__ import annotations

import ipaddress

from flask import request

from web.extensions import settings

FORWARDED_FOR = "X-Forwarded-For"
UNKNOWN = "?"


def forwarded_client(remote_addr: str | None, forwarded_for: list[str], trusted_proxies: int) -> str:
    """The client's address from the connection's address and the X-Forwarded-For header lines."""
    connection = remote_addr or UNKNOWN
    if trusted_proxies <= 0:
        return connection
    hops = [hop.strip() for line in forwarded_for for hop in line.split(",") if hop.strip()]
    if len(hops) < trusted_proxies:
        return connection  # not every trusted proxy wrote an entry: only the connection is known
    try:
        return str(ipaddress.ip_address(hops[-trusted_proxies]))
    except ValueError:
        return connection  # a trusted proxy writes addresses only: anything else is not believed


def client_address() -> str:
    """The address of the client of the current request (proxy-aware, see the module's docstring)."""
    trusted = settings().trusted_proxies
    return forwarded_client(request.remote_addr, request.headers.getlist(FORWARDED_FOR), trusted)
