"""Where a webhook may be posted, and the one HTTP post every outbound webhook goes through.

The rules hold for the URL, for every address its host resolves to, and for the peer the socket
reached: no private, loopback, link-local or otherwise internal address, however it is spelled.
"""
import http.client
import ipaddress
import socket
import ssl
import time
import urllib.parse

from chalicelib.config import settings

MAX_URL = 2048


class _AddressRefusedError(OSError):
    """The socket reached an address posts may not go to; raised before a byte is sent."""


# IPv6 prefixes that carry an IPv4 address in their last 32 bits: the NAT64 well-known prefix
# (RFC 6052), IPv4-compatible (RFC 4291, deprecated) and IPv4-translated (RFC 2765) addresses.
# IPv4-mapped (::ffff:0:0/96), 6to4 (2002::/16) and Teredo (2001::/32) are decoded by ipaddress.
_LAST_32_BITS_PREFIXES = tuple(ipaddress.ip_network(n) for n in ("64:ff9b::/96", "::/96", "::ffff:0:0:0/96"))


# The local-use NAT64 prefix (RFC 8215): a network's own translator, where the IPv4 address sits
# depends on its configuration, and which may reach anything that network reaches.
_LOCAL_NAT64 = ipaddress.ip_network("64:ff9b:1::/48")


def embedded_ipv4(address: ipaddress.IPv6Address) -> list[ipaddress.IPv4Address]:
    """The IPv4 addresses a post to this IPv6 address would really reach ([] when it carries none)."""
    if address.ipv4_mapped is not None:
        return [address.ipv4_mapped]
    if address.sixtofour is not None:
        return [address.sixtofour]
    if address.teredo is not None:  # (server: bits 32-63, client: the last 32 bits inverted)
        return list(address.teredo)
    if any(address in prefix for prefix in _LAST_32_BITS_PREFIXES):
        return [ipaddress.IPv4Address(int(address) & 0xFFFFFFFF)]
    return []


def _public(address: ipaddress.IPv4Address | ipaddress.IPv6Address) -> bool:
    """Globally reachable unicast; ipaddress counts multicast as global, a webhook never is."""
    return address.is_global and not address.is_multicast


def address_problem(address: str | ipaddress.IPv4Address | ipaddress.IPv6Address) -> str | None:
    """What an IP address is when a post may not go to it, or None. An IPv6 address that carries an
    IPv4 address is judged by that IPv4 address (which is what it reaches); loopback (127.0.0.0/8,
    ::1) only where PARLEY_WEBHOOK_ALLOW_LOOPBACK is on."""
    ip = ipaddress.ip_address(address)
    if ip.is_loopback:
        return None if settings.webhook_allow_loopback else "a loopback address"
    if isinstance(ip, ipaddress.IPv6Address):
        if ip in _LOCAL_NAT64:
            return "a local NAT64 address"
        carried = embedded_ipv4(ip)
        hidden = next((v4 for v4 in carried if not _public(v4)), None)
        if hidden is not None:
            return f"a private or reserved address (it carries {hidden})"
        if carried:
            return None  # the envelope's own prefix says nothing more about where it goes
    return None if _public(ip) else "a private or reserved address"


def _loopback(host: str) -> bool:
    if host == "localhost" or host.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def url_problem(url) -> str | None:
    """Why a URL may not be posted to, or None. https only, to a public host; http to this machine
    only where PARLEY_WEBHOOK_ALLOW_LOOPBACK is on (the local stack and tests). Every post checks it
    again, with the addresses the hostname resolves to and the one it connects to (`_post`)."""
    if not isinstance(url, str) or not url:
        return "must be a URL"
    if len(url) > MAX_URL:
        return f"must be at most {MAX_URL} characters"
    try:
        parts = urllib.parse.urlsplit(url)
        host = (parts.hostname or "").lower()
        parts.port  # noqa: B018 (raises on a bad port)
    except ValueError:
        return "is not a valid URL"
    if parts.scheme not in ("https", "http") or not host:
        return "must be an https:// URL"
    if parts.username or parts.password:
        return "must not contain a user name or password"
    if _loopback(host):
        return None if settings.webhook_allow_loopback else "must not point at this machine"
    if parts.scheme != "https":
        return "must be an https:// URL"
    try:
        problem = address_problem(host)
    except ValueError:
        return None  # a hostname: its addresses are checked at each post
    return f"must not point at {problem}" if problem else None


def valid_url(url: str) -> bool:
    return url_problem(url) is None


def _resolution_problem(host: str, port: int) -> str | None:
    """Why the host's current addresses may not be posted to: every one must pass, not just the first."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (OSError, UnicodeError):
        return "cannot resolve the host"
    for info in infos:
        problem = address_problem(info[4][0])
        if problem:
            return f"refused: the host resolves to {problem}"
    return None


def _vetted_socket(host: str, port: int, timeout: float) -> socket.socket:
    """A connection whose peer passed `address_problem`: the DNS answer may have changed since the
    check (rebinding), so the address the socket reached is what is judged, before a byte is sent."""
    sock = socket.create_connection((host, port), timeout)
    problem = address_problem(sock.getpeername()[0])
    if problem:
        sock.close()
        raise _AddressRefusedError(f"connected to {problem}")
    return sock


_tls_context: ssl.SSLContext | None = None


def _tls() -> ssl.SSLContext:
    """One verifying TLS context per container (loading the CA bundle costs milliseconds)."""
    global _tls_context
    if _tls_context is None:
        _tls_context = ssl.create_default_context()
    return _tls_context


class _VettedConnection(http.client.HTTPConnection):
    """HTTP or HTTPS over `_vetted_socket`; Host, SNI and the certificate check use the URL's hostname.
    http.client follows no redirects and uses no proxy: a 3xx is an answer, not an instruction."""

    def __init__(self, host: str, port: int, timeout: float, tls: bool):
        super().__init__(host, port, timeout=timeout)
        self.tls = tls
        self.default_port = 443 if tls else 80  # no ":443" in the Host header

    def connect(self):
        sock = _vetted_socket(self.host, self.port, self.timeout)
        self.sock = _tls().wrap_socket(sock, server_hostname=self.host) if self.tls else sock


_TARGET_SAFE = "".join(chr(c) for c in range(33, 127))  # printable ASCII stays; the rest is %-encoded


def post(url: str, body: bytes, headers: dict) -> tuple[int | None, str | None]:
    """(status, None) for a 2xx, (status, "HTTP n") for another answer, (None, why) when there was
    none. Every outbound post (endpoints, team alerts, the bot's lookups) goes through `exchange`, so
    the address rules hold for all of them: the URL, every address its host resolves to, and the
    connected peer."""
    status, _, error = exchange(url, body, headers)
    return status, error


def exchange(url: str, body: bytes, headers: dict, *, timeout: float | None = None,
             keep: int = 0) -> tuple[int | None, bytes, str | None]:
    """`post`, keeping up to `keep` bytes of the answer's body (more is an error: a body cut short is
    no answer). `timeout` (seconds) bounds the connection and each read; the webhooks' by default."""
    problem = url_problem(url)
    if problem:
        return None, b"", f"refused: url {problem}"
    parts = urllib.parse.urlsplit(url)
    tls = parts.scheme == "https"
    host, port = parts.hostname, parts.port or (443 if tls else 80)
    refused = _resolution_problem(host, port)
    if refused:
        return None, b"", refused
    target = urllib.parse.quote((parts.path or "/") + (f"?{parts.query}" if parts.query else ""), safe=_TARGET_SAFE)
    limit = timeout or settings.webhook_timeout
    started = time.monotonic()
    connection = _VettedConnection(host, port, limit, tls)
    try:
        connection.request("POST", target, body=body, headers={"Content-Type": "application/json", **headers})
        response = connection.getresponse()
        answer = response.read(max(keep, 1024) + 1)
    except _AddressRefusedError as exc:
        return None, b"", f"refused: {exc}"
    except (http.client.HTTPException, OSError, UnicodeError) as exc:
        return None, b"", f"unreachable: {exc}"[:200]
    finally:
        connection.close()
    if time.monotonic() - started > limit:  # each read kept to the limit, but not all of them together
        return None, b"", f"unreachable: no answer within {limit:g} s"
    if keep and len(answer) > keep:
        return response.status, b"", f"answer larger than {keep} bytes"
    error = None if 200 <= response.status < 300 else f"HTTP {response.status}"
    return response.status, answer[:keep] if keep else b"", error
