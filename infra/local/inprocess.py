"""The app's AWS requests to moto answered in this process, without a socket in between.

moto runs as a server so that tests and tools outside the stack can reach it (AWS_ENDPOINT_URL). The
app runs in the same process as that server, against the same backends; going through HTTP to reach
them cost more CPU than everything else a message does together: bench/load.py --profile at 50
conversations put half of the stack's samples in urllib3, http.client, werkzeug and moto's per-request
dispatch. botocore still serializes, signs and parses every request as it would over the wire (and
retries, and runs every event hook a test or a fault injector registers); only the transport from
`before-send` on is replaced, by the same entry point moto's in-process mock uses.

Requests to anything but this stack's moto (the gateway's @connections above all) are untouched.

The local stack uses this with PARLEY_LOCAL_MOTO_TRANSPORT=in-process (bench/load.py --transport compares
it); by default moto runs in a process of its own (motohost.py), reached over a socket the same way.
"""
from urllib.parse import urlsplit

from botocore.handlers import BUILTIN_HANDLERS

from .faults import HEADER as FAULT_HEADER

# botocore's event name for a service -> the AWS host moto's URL patterns recognise it by.
HOSTS = {
    "dynamodb": "dynamodb.{region}.amazonaws.com",
    "dynamodb-streams": "streams.dynamodb.{region}.amazonaws.com",
    "sfn": "states.{region}.amazonaws.com",
    "sqs": "sqs.{region}.amazonaws.com",
    "ses": "email.{region}.amazonaws.com",
    "sesv2": "email.{region}.amazonaws.com",
    "eventbridge": "events.{region}.amazonaws.com",
    "cognito-identity-provider": "cognito-idp.{region}.amazonaws.com",
}

_installed = False


class InProcessMoto:
    """A `before-send` handler: a request for `moto_url` gets its response from moto's backends directly."""

    def __init__(self, moto_url: str, region: str):
        from moto.core.botocore_stubber import BotocoreStubber
        self._netloc = urlsplit(moto_url).netloc
        self._region = region
        self._stubber = BotocoreStubber()

    def __call__(self, request, event_name: str = "", **kwargs):
        parts = urlsplit(request.url)
        service = event_name.split(".")[1] if event_name.count(".") >= 2 else ""
        host = HOSTS.get(service)
        if parts.netloc != self._netloc or host is None:
            return None  # not moto, or a service left on HTTP: botocore sends it as usual
        if FAULT_HEADER in request.headers:
            # faults.py answered it with an error already (botocore calls every before-send handler):
            # run here, it would take effect in moto as if the request had been sent.
            return None
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        original = request.url
        request.url = parts._replace(scheme="https", netloc=host.format(region=self._region)).geturl()
        try:
            answer = self._stubber.process_request(request)
        finally:
            request.url = original
        if answer is None:
            return None
        status, headers, body = answer
        return AWSResponse(original, status, headers, MockRawResponse(body))


def install(moto_url: str, region: str) -> None:
    """For every botocore client created from now on (boto3's and pynamodb's alike)."""
    global _installed
    if not _installed:
        BUILTIN_HANDLERS.append(("before-send", InProcessMoto(moto_url, region)))
        _installed = True
