"""SigV4 checks for the gateway's management endpoint, as API Gateway makes them on @connections.

Without them any local process (or a web page posting to 127.0.0.1) could inject frames into any
socket. The signature is recomputed with botocore's own SigV4Auth over the request as received
(method, raw URL, the headers it says it signed, body) and compared in constant time.
"""
import hashlib
import hmac
from datetime import UTC, datetime, timedelta

from botocore.auth import SIGV4_TIMESTAMP, SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

SERVICE = "execute-api"
ALGORITHM = "AWS4-HMAC-SHA256"
MAX_SKEW = timedelta(minutes=5)  # API Gateway refuses a request signed more than 5 minutes off
MISMATCH = ("The request signature we calculated does not match the signature you provided. "
            "Check your AWS Secret Access Key and signing method. Consult the service documentation for details.")


class SignatureRejectedError(Exception):
    """A management request API Gateway would refuse with 403; error_type is its x-amzn-ErrorType."""

    def __init__(self, error_type: str, message: str):
        super().__init__(message)
        self.error_type, self.message = error_type, message


def _authorization(header: str) -> dict[str, str]:
    """The Credential, SignedHeaders and Signature parts of an Authorization header."""
    algorithm, _, rest = header.partition(" ")
    parts = dict(p.strip().partition("=")[::2] for p in rest.split(","))
    if algorithm != ALGORITHM or not all(parts.get(k) for k in ("Credential", "SignedHeaders", "Signature")):
        raise SignatureRejectedError("IncompleteSignatureException",
                                     f"Authorization header requires {ALGORITHM} with Credential, "
                                     "SignedHeaders and Signature.")
    return parts


def _signed_at(amz_date: str, now: datetime) -> str:
    """The request's X-Amz-Date, if it is within the allowed clock skew of now."""
    try:
        signed = datetime.strptime(amz_date, SIGV4_TIMESTAMP).replace(tzinfo=UTC)
    except ValueError:
        raise SignatureRejectedError("IncompleteSignatureException", "X-Amz-Date is missing or malformed.") from None
    if abs(now - signed) > MAX_SKEW:
        raise SignatureRejectedError("InvalidSignatureException",
                                     f"Signature expired: {amz_date} is more than 5 minutes from now.")
    return amz_date


def verify(method: str, url: str, headers, body: bytes, credentials: Credentials, region: str,
           now: datetime | None = None) -> None:
    """Raise SignatureRejectedError unless the request is signed with these credentials, recently."""
    header = headers.get("Authorization")
    if not header:
        raise SignatureRejectedError("MissingAuthenticationTokenException", "Missing Authentication Token")
    parts = _authorization(header)
    access_key, _, scope = parts["Credential"].partition("/")
    if not hmac.compare_digest(access_key.encode(), credentials.access_key.encode()):
        raise SignatureRejectedError("UnrecognizedClientException",
                                     "The security token included in the request is invalid.")
    timestamp = _signed_at(headers.get("X-Amz-Date", ""), now or datetime.now(UTC))
    if scope != f"{timestamp[:8]}/{region}/{SERVICE}/aws4_request":
        raise SignatureRejectedError("InvalidSignatureException", "Credential should be scoped correctly.")
    claimed_body_hash = headers.get("X-Amz-Content-SHA256")
    if claimed_body_hash and claimed_body_hash != hashlib.sha256(body).hexdigest():
        raise SignatureRejectedError("InvalidSignatureException", MISMATCH)
    signed_names = parts["SignedHeaders"].split(";")
    request = AWSRequest(method=method, url=url, data=body,
                         headers={name: headers.get(name, "") for name in signed_names})
    request.context["timestamp"] = timestamp
    signer = SigV4Auth(credentials, SERVICE, region)
    expected = signer.signature(signer.string_to_sign(request, signer.canonical_request(request)), request)
    if "host" not in signed_names or not hmac.compare_digest(expected.encode(), parts["Signature"].encode()):
        raise SignatureRejectedError("InvalidSignatureException", MISMATCH)
