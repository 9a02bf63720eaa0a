"""Secrets the local stack makes fresh at every start, so no published value opens it.

moto accepts any AWS credentials and signs Cognito tokens with a private key shipped inside the
moto package (moto/cognitoidp/resources/jwks-private.json.gz): with those, any local process or
web page could post frames through the gateway or forge an admin token. Here the app gets random
AWS credentials (the gateway checks them, as API Gateway checks SigV4), and moto's user pools sign
with an RSA key generated in this process and published at the pool's JWKS URL.
"""
import json
import secrets
import string

from botocore.credentials import Credentials

# moto's create_jwt puts this kid in every token header; the fresh key keeps it so tokens name it.
MOTO_KID = "dummy"


def fresh_credentials() -> Credentials:
    """An access key id and secret in AWS's shapes, known to this process only."""
    alphabet = string.ascii_uppercase + "234567"
    access_key = "AKIA" + "".join(secrets.choice(alphabet) for _ in range(16))
    return Credentials(access_key, secrets.token_urlsafe(30))


def sign_cognito_with_fresh_key() -> None:
    """Make every moto user pool created from now on sign with a new RSA key, and serve its public half.

    Must run in moto's process before the pool is created (the pool loads its key when built)."""
    from joserfc import jwk
    from moto.cognitoidp import models, responses

    key = jwk.RSAKey.generate_key(2048, parameters={"kid": MOTO_KID, "alg": "RS256", "use": "sig"})
    build_pool = models.CognitoIdpUserPool.__init__

    def build_pool_with_fresh_key(pool, *args, **kwargs):
        build_pool(pool, *args, **kwargs)
        pool.json_web_key = key

    models.CognitoIdpUserPool.__init__ = build_pool_with_fresh_key
    # moto serves /{pool}/.well-known/jwks.json from this class attribute, read at each request.
    responses.CognitoIdpJsonWebKeyResponse.json_web_key = json.dumps(
        {"keys": [key.as_dict(private=False)]}).encode()
