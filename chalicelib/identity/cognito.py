"""Agent identity: sign-in through the Cognito user pool, and verification of its tokens."""
import threading

import jwt
from botocore.exceptions import ClientError

from chalicelib.aws.clients import client
from chalicelib.config import settings
from chalicelib.errors import BadRequestError, PasswordChangeRequiredError, UnauthorizedError

_lock = threading.Lock()
_jwks = None


def _jwks_client() -> jwt.PyJWKClient:
    global _jwks
    with _lock:
        if _jwks is None:
            _jwks = jwt.PyJWKClient(settings.jwks_url, cache_keys=True, lifespan=3600, timeout=5)
        return _jwks


_AUTH_FAILURES = {"NotAuthorizedException", "UserNotFoundException", "UserNotConfirmedException",
                  "PasswordResetRequiredException", "InvalidParameterException"}


def _initiate(flow: str, params: dict) -> dict:
    try:
        result = client("cognito-idp").initiate_auth(AuthFlow=flow, ClientId=settings.cognito_client_id,
                                         AuthParameters=params)
    except ClientError as exc:
        if exc.response["Error"]["Code"] in _AUTH_FAILURES:
            raise UnauthorizedError("invalid credentials") from None
        raise
    return _tokens(result)


def _tokens(result: dict) -> dict:
    tokens = result.get("AuthenticationResult")
    if tokens:
        return tokens
    if result.get("ChallengeName") == "NEW_PASSWORD_REQUIRED":
        raise PasswordChangeRequiredError(result["Session"])
    raise UnauthorizedError(f"sign-in needs {result.get('ChallengeName', 'a challenge')}, not supported yet")


# Cognito's bounds on a challenge session; botocore refuses any other length before sending it.
SESSION_MIN, SESSION_MAX = 20, 4096
# Cognito's own trouble, not the caller's: these stay errors of ours whatever the request held.
_SERVICE_FAULTS = {"TooManyRequestsException", "InternalErrorException", "LimitExceededException"}


def set_new_password(email: str, session: str, password: str) -> dict:
    """Answer Cognito's NEW_PASSWORD_REQUIRED challenge (an invited agent's first sign-in)."""
    if not SESSION_MIN <= len(session) <= SESSION_MAX:
        raise _session_expired()
    try:
        result = client("cognito-idp").respond_to_auth_challenge(
            ClientId=settings.cognito_client_id, ChallengeName="NEW_PASSWORD_REQUIRED", Session=session,
            ChallengeResponses={"USERNAME": email, "NEW_PASSWORD": password})
    except ClientError as exc:
        code = exc.response["Error"]["Code"]
        if code == "InvalidPasswordException":
            raise BadRequestError(exc.response["Error"].get("Message", "password too weak"), field="password") from None
        # A session Cognito cannot use (forged, mangled, expired, another user's) comes back under
        # several codes (NotAuthorized, ResourceNotFound from moto, CodeMismatch, ...): all of them
        # are the caller's to fix by signing in again, as is any other refusal of the request.
        if code not in _SERVICE_FAULTS and _status(exc) < 500:
            raise _session_expired() from None
        raise
    return _tokens(result)


def _session_expired() -> UnauthorizedError:
    """One answer for every unusable session: the remedy is the same, sign in again."""
    return UnauthorizedError("the sign-in session expired; sign in again", field="session")


def _status(exc: ClientError) -> int:
    """The HTTP status Cognito answered with (500 when unknown, so it stays our error)."""
    return int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") or 500)


def login(email: str, password: str) -> dict:
    return _initiate("USER_PASSWORD_AUTH", {"USERNAME": email, "PASSWORD": password})


def refresh(refresh_token: str) -> dict:
    return _initiate("REFRESH_TOKEN_AUTH", {"REFRESH_TOKEN": refresh_token})


def verify_access_token(token: str) -> dict:
    """Claims of a valid access token of our pool and app client; UnauthorizedError otherwise."""
    try:
        key = _jwks_client().get_signing_key_from_jwt(token).key
        claims = jwt.decode(token, key, algorithms=["RS256"], issuer=settings.cognito_issuer,
                            options={"require": ["sub", "exp", "iss", "token_use"]})
    except jwt.ExpiredSignatureError:
        raise UnauthorizedError("token expired") from None
    except jwt.PyJWKClientConnectionError:
        raise  # our fault, not the caller's: let it surface as an internal error
    except jwt.PyJWTError:
        raise UnauthorizedError("invalid token") from None
    if claims.get("token_use") != "access" or claims.get("client_id") != settings.cognito_client_id:
        raise UnauthorizedError("invalid token")
    return claims
