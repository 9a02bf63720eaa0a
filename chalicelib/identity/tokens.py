"""Visitor tokens (HS256 JWTs we sign) and identity verification of a site's logged-in users."""
import hashlib
import hmac

import jwt

from chalicelib.config import settings
from chalicelib.core.clock import now
from chalicelib.errors import UnauthorizedError

_ALG = "HS256"


def issue_visitor_token(visitor_id: str, site_key: str, workspace_id: str) -> tuple[str, int]:
    issued = int(now())
    claims = {"sub": visitor_id, "site": site_key, "ws": workspace_id, "typ": "visitor",
              "iat": issued, "exp": issued + settings.visitor_token_ttl}
    return jwt.encode(claims, _secret(), algorithm=_ALG), settings.visitor_token_ttl


def verify_visitor_token(token: str) -> dict:
    """The claims of a valid, unexpired visitor token; UnauthorizedError otherwise."""
    try:
        claims = jwt.decode(token, _secret(), algorithms=[_ALG],
                            options={"require": ["sub", "site", "ws", "exp", "iat"]})
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError("token expired") from None
    except jwt.PyJWTError:
        raise UnauthorizedError("invalid token") from None
    if claims.get("typ") != "visitor":
        raise UnauthorizedError("invalid token")
    return claims


def verify_resume_token(token: str, site_key: str) -> str:
    """The visitor id of an earlier token of this site: signature valid, issued within the resume window."""
    try:
        claims = jwt.decode(token, _secret(), algorithms=[_ALG],
                            options={"verify_exp": False, "require": ["sub", "site", "iat"]})
    except jwt.PyJWTError:
        raise UnauthorizedError("invalid resume_token", field="resume_token") from None
    if claims.get("typ") != "visitor" or claims.get("site") != site_key:
        raise UnauthorizedError("invalid resume_token", field="resume_token")
    if claims["iat"] < now() - settings.resume_window:
        raise UnauthorizedError("resume_token too old", field="resume_token")
    return claims["sub"]


PREVIEW_TTL = 30 * 60


def issue_preview_ticket(site_key: str, version: int, admin_id: str) -> tuple[str, int]:
    """A ticket the widget trades for a preview session of the site's bot flow, version `version`."""
    issued = int(now())
    claims = {"typ": "bot_preview", "site": site_key, "v": int(version), "by": admin_id,
              "iat": issued, "exp": issued + PREVIEW_TTL}
    return jwt.encode(claims, _secret(), algorithm=_ALG), PREVIEW_TTL


def verify_preview_ticket(ticket: str, site_key: str) -> int:
    """The flow version a preview ticket of this site grants; UnauthorizedError for any other ticket."""
    try:
        claims = jwt.decode(ticket, _secret(), algorithms=[_ALG], options={"require": ["typ", "site", "v", "exp"]})
    except jwt.PyJWTError:
        raise UnauthorizedError("invalid preview ticket", field="preview") from None
    if claims.get("typ") != "bot_preview" or claims.get("site") != site_key or not isinstance(claims.get("v"), int):
        raise UnauthorizedError("invalid preview ticket", field="preview")
    return claims["v"]


def user_hash(secret: str, user_id: str) -> str:
    """What a site's backend computes: hex HMAC-SHA256 of user_id under the site's identity secret."""
    return hmac.new(secret.encode(), user_id.encode(), hashlib.sha256).hexdigest()


def verify_user_hash(secret: str | None, user_id: str, given: str) -> bool:
    """Compared as bytes, like verify_mail_signature: compare_digest refuses non-ASCII strings, and
    `user_hash` is whatever the browser posts."""
    if not secret:
        return False
    return hmac.compare_digest(user_hash(secret, user_id).encode(), given.lower().encode("utf-8", "surrogatepass"))


def verified_visitor_id(site_key: str, user_id: str) -> str:
    """A verified user is the same visitor on every device: derive the id instead of looking it up."""
    digest = hashlib.sha256(f"{site_key}\x00{user_id}".encode()).hexdigest()[:32]
    return f"v_{digest}"


def _secret() -> str:
    if len(settings.token_secret) < 32:
        raise RuntimeError("PARLEY_TOKEN_SECRET must be set to at least 32 characters")
    return settings.token_secret


def mail_signature(purpose: str, *parts: str, length: int = 20) -> str:
    """Hex HMAC of an emailed address or link (reply-to, rating links), under a key of its own."""
    key = hmac.new(_secret().encode(), b"parley-mail", hashlib.sha256).digest()
    message = "\x00".join((purpose, *parts)).encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()[:length]


def verify_mail_signature(given: str, purpose: str, *parts: str, length: int = 20) -> bool:
    """Compared as bytes: compare_digest refuses non-ASCII strings, and a link's `sig` is anyone's to edit."""
    return isinstance(given, str) and hmac.compare_digest(
        mail_signature(purpose, *parts, length=length).encode(), given.lower().encode("utf-8", "surrogatepass"))
