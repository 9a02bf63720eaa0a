"""Faults on purpose: AWS errors injected into the app's own calls, to prove that nothing is lost or doubled.

Switched on by one environment variable of the local stack (never read by the app, never in the Lambda
package), a rate per kind of fault, and a seed:

    PARLEY_FAULTS="dynamodb=0.1,post_to_connection_gone=0.02,post_to_connection_500=0.05,ses_throttle=0.2"
    PARLEY_FAULTS_SEED=7

Each rate is the chance that one HTTP attempt of the matching calls fails (KINDS below). The fault is
injected at botocore's `before-send` event: the handler answers with the error response AWS would send
instead of sending the request, so the answer goes through botocore's retry logic and its parsers exactly
as a real one would (a throttle is retried with backoff, a 410 is not), and what the app finally sees is
what it would see on AWS on a bad day. Nothing reached moto: an injected fault has no side effect. (botocore
calls every before-send handler, so the others must leave a request marked with HEADER alone: the stack's
in-process transport, inprocess.py, does; so must moto's own stub where tests run it.)

The hooks go on every botocore session the app's clients come from: boto3's default session
(chalicelib/clients.py, chalicelib/sender.py) and the sessions pynamodb makes for itself
(pynamodb.connection.base.get_session, one per thread: pynamodb does not use boto3). Install them before
the first client is created; clients made earlier are not hooked.

Every kind draws from its own random generator, seeded from the seed and its name, so one kind's rate
does not change another's draws and a run with the same seed draws the same sequence (which request gets
which draw still depends on the order in which concurrent requests arrive).
"""
import json
import logging
import os
import random
import threading
import urllib.parse
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass

from botocore.awsrequest import AWSResponse

log = logging.getLogger("parley.faults")

HEADER = "x-parley-fault"  # marks an injected answer, so after-call can tell the app saw it


@dataclass(frozen=True)
class Kind:
    name: str
    service: str  # botocore's service id as it appears in event names: before-send.{service}.{operation}
    operations: tuple[str, ...]  # empty: every operation of the service
    status: int
    errors: tuple[tuple[str, str], ...]  # (code, message) pairs; each fault picks one


KINDS = (
    Kind("dynamodb", "dynamodb", (), 400, (
        ("ProvisionedThroughputExceededException", "The level of configured provisioned throughput for the "
                                                   "table was exceeded. Consider increasing your provisioning "
                                                   "level with the UpdateTable API."),
        ("ThrottlingException", "Rate of requests exceeds the allowed throughput."))),
    # A 410 that is true: the gateway also drops the socket (see Injector.on_gone), as when a phone loses
    # its network just as a frame is posted to it.
    Kind("post_to_connection_gone", "apigatewaymanagementapi", ("PostToConnection",), 410,
         (("GoneException", "Gone"),)),
    Kind("post_to_connection_500", "apigatewaymanagementapi", ("PostToConnection",), 500,
         (("InternalServerErrorException", "Internal server error"),)),
    Kind("ses_throttle", "ses", ("SendRawEmail", "SendEmail"), 400,
         (("Throttling", "Maximum sending rate exceeded."),)),
    Kind("ses_500", "ses", ("SendRawEmail", "SendEmail"), 500,
         (("InternalFailure", "The request processing has failed because of an unknown error."),)),
    Kind("stepfunctions_throttle", "sfn", ("StartExecution", "SendTaskSuccess"), 400,
         (("ThrottlingException", "Rate exceeded"),)),
    Kind("stepfunctions_500", "sfn", ("StartExecution", "SendTaskSuccess"), 500,
         (("InternalFailure", "The request processing has failed because of an unknown error."),)),
)
BY_NAME = {kind.name: kind for kind in KINDS}
# DynamoDB also throttles a transaction item by item: the whole call is cancelled, with a ThrottlingError
# among its reasons. botocore does not retry that one; the app sees it at once.
CANCELLED = ("TransactionCanceledException", "Transaction cancelled, please refer cancellation reasons for "
                                             "specific reasons")
THROTTLED_ITEM = {"Code": "ThrottlingError", "Message": "Throughput exceeds the current capacity of your table or "
                                                        "index. DynamoDB is automatically scaling your table or "
                                                        "index so please try again shortly."}
# How each service writes an error (botocore parses it with the service's protocol).
PROTOCOLS = {"dynamodb": "json", "sfn": "json", "apigatewaymanagementapi": "rest-json", "ses": "query"}


def parse(spec: str) -> dict[str, float]:
    """`kind=rate,kind=rate` as {kind: rate}; ValueError naming what is wrong."""
    rates = {}
    for part in filter(None, (p.strip() for p in spec.split(","))):
        name, _, value = part.partition("=")
        name = name.strip()
        if name not in BY_NAME:
            raise ValueError(f"PARLEY_FAULTS: unknown kind {name!r}; kinds: {', '.join(BY_NAME)}")
        try:
            rate = float(value)
        except ValueError:
            raise ValueError(f"PARLEY_FAULTS: {name} needs a rate between 0 and 1, not {value!r}") from None
        if not 0 <= rate <= 1:
            raise ValueError(f"PARLEY_FAULTS: {name} needs a rate between 0 and 1, not {rate}")
        rates[name] = rate
    return rates


class _Body:
    """The raw body botocore reads an AWSResponse's content from."""

    def __init__(self, data: bytes):
        self._data = data

    def stream(self, **_):
        yield self._data


def error_response(kind: Kind, code: str, message: str, request) -> AWSResponse:
    """The answer AWS gives for this error to this request, in the service's own protocol."""
    request_id = str(uuid.uuid4())
    headers = {"x-amzn-RequestId": request_id, HEADER: kind.name}
    protocol = PROTOCOLS[kind.service]
    if protocol == "json":
        headers["Content-Type"] = "application/x-amz-json-1.0"
        error = {"__type": code, "message": message}
        if code == CANCELLED[0]:  # one reason per item, in order: the first throttled, the others not tried
            items = len(json.loads(request.body or b"{}").get("TransactItems") or [None])
            error["CancellationReasons"] = [THROTTLED_ITEM] + [{"Code": "None"}] * (items - 1)
            error["message"] += f" [ThrottlingError{', None' * (items - 1)}]"
        body = json.dumps(error).encode()
    elif protocol == "rest-json":
        headers.update({"Content-Type": "application/json", "x-amzn-ErrorType": code})
        body = json.dumps({"message": message}).encode()
    else:  # query: XML
        headers["Content-Type"] = "text/xml"
        side = "Receiver" if kind.status >= 500 else "Sender"
        body = (f'<ErrorResponse xmlns="http://ses.amazonaws.com/doc/2010-12-01/"><Error><Type>{side}</Type>'
                f'<Code>{code}</Code><Message>{message}</Message></Error><RequestId>{request_id}</RequestId>'
                f'</ErrorResponse>').encode()
    headers["Content-Length"] = str(len(body))
    return AWSResponse(request.url, kind.status, headers, _Body(body))


@dataclass
class _Plan:
    kind: Kind
    operation: str | None
    skip: int
    calls: int
    attempts: int | None
    error: str | None = None  # this error code of the kind's (or the transaction's), else one at random
    failing: bool = False  # the current call is one of those to fail


def _attempt(request) -> int:
    """Which attempt of its call this request is, from the header botocore sends (attempt=1 the first)."""
    header = request.headers.get("amz-sdk-request") or b""
    header = header.decode() if isinstance(header, bytes) else header
    for part in header.split(";"):
        key, _, value = part.strip().partition("=")
        if key == "attempt" and value.isdigit():
            return int(value)
    return 1


class Injector:
    """Decides, counts and answers the faults. Disarmed until `arm()` (the stack seeds its data first)."""

    def __init__(self, rates: dict[str, float], seed: int = 0):
        self.seed = seed
        self.rates = {name: 0.0 for name in BY_NAME} | rates
        self._rngs = {name: random.Random(f"{seed}:{name}") for name in BY_NAME}
        self._lock = threading.Lock()
        self.armed = False
        self.attempts: Counter = Counter()   # HTTP attempts of the calls some kind targets, by service
        self.retries: Counter = Counter()    # of which botocore's retries (attempt 2 and later)
        self.injected: Counter = Counter()   # faults injected, by kind
        self.surfaced: Counter = Counter()   # calls that ended on an injected fault (the app saw the error)
        self._planned: list[_Plan] = []      # faults put at precise calls: see fail()
        self.recent: deque = deque(maxlen=500)  # (service, operation, attempt, kind or None), newest last
        # Told the connection id of every injected 410 (the stack drops that socket).
        self.on_gone: Callable[[str], None] = lambda connection_id: None

    # --- the hooks -----------------------------------------------------------------------------

    def before_send(self, request, event_name: str, **_):
        _, service, operation = (event_name.split(".", 2) + ["", ""])[:3]
        kinds = [k for k in KINDS if k.service == service and (not k.operations or operation in k.operations)]
        if not kinds or not self.armed:
            return None
        attempt = _attempt(request)
        with self._lock:
            self.attempts[service] += 1
            if attempt > 1:
                self.retries[service] += 1
            # Every kind draws at every attempt, so each kind's sequence stays its own.
            hits = [k for k in kinds if self._rngs[k.name].random() < self.rates[k.name]]
            planned = self._take_planned(kinds, operation, attempt)
            kind = planned[0].kind if planned else hits[0] if hits else None
            self.recent.append((service, operation, attempt, kind and kind.name))
            if kind is None:
                return None
            errors = kind.errors + ((CANCELLED,) if kind.service == "dynamodb" and operation == "TransactWriteItems"
                                    else ())
            wanted = planned[0].error if planned else None
            code, message = (next(e for e in errors if e[0] == wanted) if wanted
                             else self._rngs[kind.name].choice(errors))
            self.injected[kind.name] += 1
        request.headers[HEADER] = kind.name  # never sent; tells an in-process stub to leave it alone
        if kind.status == 410:
            connection_id = urllib.parse.unquote(urllib.parse.urlsplit(request.url).path.rsplit("/", 1)[-1])
            try:
                self.on_gone(connection_id)
            except Exception:
                log.exception("dropping the socket of an injected 410 failed")
        return error_response(kind, code, message, request)

    def _take_planned(self, kinds: list[Kind], operation: str, attempt: int) -> list[_Plan]:
        """The planned fault (fail()) due at this attempt, if any; called under the lock."""
        for plan in list(self._planned):
            if plan.kind not in kinds or plan.operation not in (None, operation):
                continue
            if attempt == 1:  # a new call
                plan.failing = False
                if plan.skip:
                    plan.skip -= 1
                    return []
                if not plan.calls:
                    self._planned.remove(plan)
                    continue
                plan.calls -= 1
                plan.failing = True
            return [plan] if plan.failing and (plan.attempts is None or attempt <= plan.attempts) else []
        return []

    def after_call(self, http_response=None, **_) -> None:
        kind = http_response is not None and http_response.headers.get(HEADER)
        if kind:
            with self._lock:
                self.surfaced[kind] += 1

    def register(self, session) -> None:
        """Hook a botocore session: clients it creates from now on carry the hooks. First in line, so
        moto's in-process stub (tests' mock_aws) does not answer before them."""
        emitter = session.get_component("event_emitter")
        emitter.register_first("before-send", self.before_send, unique_id="parley-faults-before-send")
        emitter.register_first("after-call", self.after_call, unique_id="parley-faults-after-call")

    def install(self) -> "Injector":
        """Hook boto3's default session and every session pynamodb makes from now on."""
        import boto3
        import pynamodb.connection.base as pynamodb_base
        if boto3.DEFAULT_SESSION is None:
            boto3.setup_default_session()
        self.register(boto3.DEFAULT_SESSION._session)
        make_session = getattr(pynamodb_base.get_session, "parley_original", pynamodb_base.get_session)

        def get_session():
            session = make_session()
            self.register(session)
            return session
        get_session.parley_original = make_session
        pynamodb_base.get_session = get_session
        return self

    def uninstall(self) -> None:
        """Disarm, and let pynamodb make plain sessions again (clients hooked meanwhile stay hooked, unarmed)."""
        import pynamodb.connection.base as pynamodb_base
        self.armed = False
        pynamodb_base.get_session = getattr(pynamodb_base.get_session, "parley_original", pynamodb_base.get_session)

    # --- control -------------------------------------------------------------------------------

    def arm(self) -> None:
        self.armed = True

    def fail(self, kind: str, *, calls: int = 1, attempts: int | None = None, operation: str | None = None,
             skip: int = 0, error: str | None = None) -> None:
        """Whatever the rates, fail the next `calls` calls of this kind (of `operation` only, if named) after
        letting `skip` calls through: every attempt of each (the call fails past botocore's retries), or
        its first `attempts` (a retry absorbs the fault); with `error`, that code of the kind's. A test puts a
        fault exactly where it wants one."""
        with self._lock:
            self._planned.append(_Plan(BY_NAME[kind], operation, skip, calls, attempts, error))

    def set_rates(self, rates: dict[str, float]) -> None:
        with self._lock:
            self.rates.update(rates)

    def snapshot(self) -> dict:
        with self._lock:
            return {"seed": self.seed, "armed": self.armed, "rates": dict(self.rates),
                    "attempts": dict(self.attempts), "retries": dict(self.retries),
                    "injected": dict(self.injected), "surfaced": dict(self.surfaced)}


def from_environment() -> Injector | None:
    """The injector PARLEY_FAULTS asks for, installed (not armed); None when the variable is unset."""
    spec = os.environ.get("PARLEY_FAULTS")
    if spec is None:
        return None
    injector = Injector(parse(spec), int(os.environ.get("PARLEY_FAULTS_SEED") or 0)).install()
    log.warning("fault injection on: %s (seed %d)", spec or "all rates 0", injector.seed)
    return injector


def routes(injector: Injector) -> list:
    """`GET /_local/faults`: the counters; `POST` {"rates": {kind: rate}} changes rates while it runs (the
    bench measures the same stack without faults, then with them)."""
    from aiohttp import web

    async def show(_):
        return web.json_response(injector.snapshot())

    async def change(request):
        try:
            body = await request.json()
            rates = body.get("rates") if isinstance(body, dict) else None
            if not isinstance(rates, dict):
                raise ValueError("rates must be an object of kind: rate")
            injector.set_rates(parse(",".join(f"{k}={v}" for k, v in rates.items())))
        except ValueError as exc:
            return web.json_response({"error": {"code": "bad_request", "message": str(exc), "field": "rates"}},
                                     status=400)
        return web.json_response(injector.snapshot())

    return [web.get("/_local/faults", show), web.post("/_local/faults", change)]
