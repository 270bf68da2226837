"""What every request passes before any route, token or not (ASGI middleware).

- **Host**: the ``Host`` header must name this server (``MATCHLAB_ALLOWED_HOSTS``; default the
  loopback names plus the host it was told to bind). A page on another site that rebinds its own
  DNS name to 127.0.0.1 reaches the port, but with its own name in ``Host``: refused (400).
- **Other sites**: a request that changes state (POST, PUT, PATCH, DELETE), to the API or to a
  page, is refused (403) when the browser says it came from elsewhere: an ``Origin`` of another
  host or ``null`` (sandboxed frames, ``data:`` pages), or ``Sec-Fetch-Site: cross-site`` /
  ``same-site`` (another port of the same machine is another site's page too). Scripts send
  neither header and pass; browsers cannot leave them out. ``X-Forwarded-Host`` names this
  server too, but only on requests from a proxy in ``MATCHLAB_TRUSTED_PROXIES``.
- **Headers on every answer**: not framed by anyone (``frame-ancestors 'none'``, so Cancel and
  Delete cannot be clickjacked), no MIME sniffing, the referrer only to this origin.
"""

from __future__ import annotations

from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network
from urllib.parse import urlsplit

from fastapi import status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})
LOOPBACK_NAMES = ("localhost", "127.0.0.1", "::1")
# Any address: the names it answers to are not knowable here; the loopback names still apply.
WILDCARD_BINDS = ("0.0.0.0", "::", "")

# ReDoc's bundle hard-codes a logo from cdn.redoc.ly: on the docs pages images come from here only.
_CSP = "frame-ancestors 'none'; base-uri 'self'; form-action 'self'; object-src 'none'"
_DOCS_CSP = _CSP + "; img-src 'self' data:"
_DOCS_PATHS = ("/docs", "/redoc")


def allowed_hosts(configured: str | None, bind_host: str) -> frozenset[str] | None:
    """The host names ``Host`` may carry (ports ignored); ``None`` means any (``*``)."""
    if configured:
        names = {name.strip().lower() for name in configured.split(",") if name.strip()}
        if "*" in names:
            return None
    else:
        names = set(LOOPBACK_NAMES)
        if bind_host not in WILDCARD_BINDS:
            names.add(bind_host.lower())
    return frozenset(name.strip("[]") for name in names)


def host_name(host_header: str) -> str:
    """``example.org:8000`` → ``example.org``; ``[::1]:8000`` → ``::1``."""
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def trusted_proxies(configured: str) -> tuple[IPv4Network | IPv6Network, ...]:
    """``MATCHLAB_TRUSTED_PROXIES`` (``10.0.0.5, 10.1.0.0/16``) as networks; a bad entry is a
    ``ValueError`` naming it."""
    networks = []
    for item in (part.strip() for part in configured.split(",")):
        if item:
            try:
                networks.append(ip_network(item, strict=False))
            except ValueError:
                raise ValueError(
                    f"MATCHLAB_TRUSTED_PROXIES: {item!r} is not an IP address or CIDR "
                    "(write them like 10.0.0.5, 10.1.0.0/16)"
                ) from None
    return tuple(networks)


def from_proxy(scope: Scope, proxies: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    """The request arrived from one of ``proxies`` (so its forwarded headers are the proxy's)."""
    client = scope.get("client")
    if not proxies or not client:
        return False
    try:
        address = ip_address(client[0])
    except ValueError:
        return False
    return any(address in network for network in proxies)


def other_site(headers: Headers, forwarded: bool = False) -> str | None:
    """Why a browser request came from another site, or ``None`` when it did not (or no browser
    sent it). ``forwarded``: it came through a trusted proxy, whose X-Forwarded-Host counts."""
    origin = headers.get("origin")
    if origin is not None:
        if origin.strip().lower() == "null":
            return "a request from an opaque origin (Origin: null) was refused"
        # Behind a proxy the Host may be the upstream address; the proxy says what the browser
        # used. From anyone else the header is the client's own word, and is ignored.
        ours = {headers.get("host", ""), headers.get("x-forwarded-host", "") if forwarded else ""}
        if urlsplit(origin).netloc not in ours - {""}:
            return f"a request from another site ({origin[:100]}) was refused"
        return None
    if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return "a request from another site (Sec-Fetch-Site) was refused"
    return None


def _error(code: int, field: str, message: str) -> JSONResponse:
    return JSONResponse({"detail": [{"field": field, "message": message}]}, code)


class SiteGuard:
    """ASGI middleware: the Host check, the other-site check and the security headers."""

    def __init__(
        self,
        app: ASGIApp,
        hosts: frozenset[str] | None,
        proxies: tuple[IPv4Network | IPv6Network, ...] = (),
    ) -> None:
        self.app = app
        self.hosts = hosts
        self.proxies = proxies

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        refusal = self._refusal(scope, headers)
        csp = _DOCS_CSP if scope["path"] in _DOCS_PATHS else _CSP

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [
                    (b"content-security-policy", csp.encode()),
                    (b"x-content-type-options", b"nosniff"),
                    (b"x-frame-options", b"DENY"),
                    (b"referrer-policy", b"same-origin"),
                ]
                message["headers"] = [*message.get("headers", []), *extra]
            await send(message)

        if refusal is not None:
            await refusal(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)

    def _refusal(self, scope: Scope, headers: Headers) -> JSONResponse | None:
        if self.hosts is not None:
            name = host_name(headers.get("host", ""))
            if name not in self.hosts:
                return _error(
                    status.HTTP_400_BAD_REQUEST,
                    "host",
                    f"this server does not answer to the host {name[:100]!r}; allowed: "
                    f"{', '.join(sorted(self.hosts))} (set MATCHLAB_ALLOWED_HOSTS to add names)",
                )
        if scope["method"] in WRITE_METHODS:
            why = other_site(headers, from_proxy(scope, self.proxies))
            if why is not None:
                return _error(status.HTTP_403_FORBIDDEN, "origin", why)
        return None
