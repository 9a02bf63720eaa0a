"""Which web pages may talk to Parley from a browser: a site's `allowed_origins` for the widget's
routes and sockets, the console's origin for agents' sockets, and the CORS answers that follow.

The browser's `Origin` header is what is checked. It stops other web pages in browsers, not
scripts, which send any Origin (or none) they like: a request with no Origin is not a browser page's
and stays allowed. Tokens, not this, are what keep scripts out.
"""
import re
import urllib.parse

from chalicelib.config import settings
from chalicelib.errors import BadRequestError, OriginNotAllowedError

MAX_ORIGINS = 50
_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOSTNAME = rf"{_LABEL}(?:\.{_LABEL})*"
_ORIGIN = re.compile(rf"^(https?)://(\*\.)?({_HOSTNAME}|\[[0-9a-f:.]+\])(?::(\d{{1,5}}))?$")
_SUBDOMAIN = re.compile(_HOSTNAME)
DEFAULT_PORTS = {"http": "80", "https": "443"}
PREFLIGHT_MAX_AGE = "600"


def normalize(value, field: str = "allowed_origins") -> str:
    """One allowed origin written as browsers send it: lowercase, no default port, no trailing slash."""
    if not isinstance(value, str) or len(value) > 300:
        raise BadRequestError(f"each of {field} must be a string like https://shop.example", field=field)
    text = value.strip().lower()
    text = text[:-1] if text.endswith("/") else text
    match = _ORIGIN.match(text)
    if not match:
        raise BadRequestError(f"{value[:100]!r} is not an origin: write scheme://host[:port] (http or https, "
                              "no path), or https://*.domain for its subdomains", field=field)
    scheme, wildcard, host, port = match.groups()
    if wildcard and (host.startswith("[") or "." not in host or host.replace(".", "").isdigit()):
        raise BadRequestError(f"{value[:100]!r}: *. needs a domain name of two labels or more after it", field=field)
    if port is not None and not 0 < int(port) < 65536:
        raise BadRequestError(f"{value[:100]!r}: the port must be 1 to 65535", field=field)
    port = "" if port in (None, DEFAULT_PORTS[scheme]) else f":{int(port)}"
    return f"{scheme}://{wildcard or ''}{host}{port}"


def parse_list(body: dict, field: str = "allowed_origins") -> list[str] | None:
    """A PATCHed list of origins, normalized and de-duplicated; null: any origin (no check)."""
    value = body.get(field)
    if value is None:
        return None
    if not isinstance(value, list) or len(value) > MAX_ORIGINS:
        raise BadRequestError(f"{field} must be a list of at most {MAX_ORIGINS} origins, or null", field=field)
    out: list[str] = []
    for item in value:
        origin = normalize(item, field)
        if origin not in out:
            out.append(origin)
    return out


def matches(pattern: str, origin: str) -> bool:
    """An exact origin, or `scheme://*.domain[:port]`: any subdomain of domain (not domain itself)."""
    if "://*." not in pattern:
        return pattern == origin
    scheme, rest = pattern.split("://*.", 1)
    prefix = f"{scheme}://"
    if not origin.startswith(prefix) or not origin.endswith("." + rest):
        return False
    return bool(_SUBDOMAIN.fullmatch(origin[len(prefix):-len(rest) - 1]))


def page_origin(url: str | None) -> str | None:
    """The origin of a page's URL as browsers write it (no default port); None for anything but a
    plain http(s) page (a javascript: URL, a malformed host)."""
    parts = urllib.parse.urlsplit(url or "")
    if parts.scheme.lower() not in DEFAULT_PORTS or not parts.netloc or "@" in parts.netloc:
        return None
    try:
        return normalize(f"{parts.scheme}://{parts.netloc}")
    except BadRequestError:
        return None


def owns_page(site, url: str | None, *own_urls: str) -> bool:
    """Whether `url` is a page on a host the site owns: one of its allowed origins (a site with no list
    owns none here), or the origin of one of `own_urls` (the product's own pages)."""
    origin = page_origin(url)
    if origin is None:
        return False
    if origin in {page_origin(u) for u in own_urls if u}:
        return True
    allowed = (site.settings.allowed_origins or []) if site is not None else []
    return any(matches(pattern, origin) for pattern in allowed)


def from_headers(headers) -> str | None:
    """The request's Origin header as sent (None: not a browser page's request)."""
    if not headers:
        return None
    for name, value in headers.items():  # API Gateway keeps the client's spelling of header names
        if name.lower() == "origin":
            return value
    return None


def site_allows(site, origin: str | None) -> bool:
    """No Origin (not a browser page), or no list on the site (set before lists existed): allowed. The
    deployment's own console (PARLEY_CONSOLE_ORIGIN) may use every site's widget: its bot flow preview."""
    allowed = site.settings.allowed_origins
    if origin is None or allowed is None:
        return True
    origin = origin.strip().lower()
    return any(matches(pattern, origin) for pattern in (*allowed, *settings.console_origins))


def check_site(site, origin: str | None) -> None:
    """A page the site does not list may not use its widget: refused before anything is stored."""
    if not site_allows(site, origin):
        raise OriginNotAllowedError(origin, "this site")


def check_console(origin: str | None) -> None:
    """Agents' sockets come from the console's page only, when PARLEY_CONSOLE_ORIGIN says where it is."""
    allowed = settings.console_origins
    if origin is None or not allowed:
        return
    if not any(matches(pattern, origin.strip().lower()) for pattern in allowed):
        raise OriginNotAllowedError(origin, "the agent console")


def cors_headers(origin: str | None) -> dict:
    """A response a page of `origin` may read (checked already); Vary either way, for caches."""
    if origin is None:
        return {"Vary": "Origin"}
    return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}


def preflight_headers(methods: str) -> dict:
    """What a CORS preflight from an allowed page is told, beside cors_headers."""
    return {"Access-Control-Allow-Methods": methods, "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE}
