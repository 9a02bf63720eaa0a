"""Logs, metrics and traces, built once per container and run around every invocation (app.py's middleware).

- Logs: powertools' JSON Logger. Every record (chalicelib's module loggers included) carries the
  invocation's connection_id, conversation_id and request ids, set per invocation and cleared after it.
- Metrics: CloudWatch EMF lines on stdout (namespace Parley, dimensions service and stage), buffered
  during the invocation and printed once at its end, even when it raised. EMF puts one dimension set
  on every metric of a line, so metrics with their own dimension (MessagesStored by author, Errors by
  code) are kept in one buffer per dimension value: a few low-cardinality sets, one line each.
  Called outside an invocation (tests, scripts), values wait for the next flush, and powertools
  prints a set by itself once a metric holds 100 values: the buffer never grows without bound.
- Traces: powertools' Tracer (X-Ray) only when settings.tracing is on; off, the X-Ray SDK is never
  imported (it adds about one `import boto3` to a cold start: bench/cold_start.py) and the middleware opens
  no segment.
"""
import json
import logging
import sys
import threading

from aws_lambda_powertools import Logger
from aws_lambda_powertools.metrics import EphemeralMetrics
from chalice.app import LambdaFunctionEvent, Request, WebsocketEvent

from chalicelib.config import settings
from chalicelib.core.clock import now, parse_iso

# Dimension sets beyond which a new value is folded into "other": the sets stay few whatever a bug sends.
MAX_DIMENSION_SETS = 64


class _Stdout:
    """Writes to whatever sys.stdout is at the time (Lambda's stdout; pytest's capture in tests)."""

    def write(self, text: str) -> int:
        return sys.stdout.write(text)

    def flush(self) -> None:
        sys.stdout.flush()


logger = Logger(service=settings.service_name, level=settings.log_level, stream=_Stdout())
# chalicelib's modules log through logging.getLogger(__name__): the same JSON handler, the same keys.
_package_logger = logging.getLogger("chalicelib")
_package_logger.addHandler(logger.registered_handler)
_package_logger.setLevel(logger.log_level)
_package_logger.propagate = False


def _metric_set(**dimensions: str) -> EphemeralMetrics:
    defaults = {"service": settings.service_name, "stage": settings.stage, **dimensions}
    return EphemeralMetrics(namespace=settings.metrics_namespace, service=settings.service_name,
                            default_dimensions=defaults)


metrics = _metric_set()  # the metrics with no dimension of their own
_sets: dict[tuple, EphemeralMetrics] = {(): metrics}
_lock = threading.Lock()  # the local stack runs invocations on threads; Lambda runs one at a time


def _build_tracer():
    if not settings.tracing:
        return None
    from aws_lambda_powertools import Tracer
    return Tracer(service=settings.service_name)  # building it imports the X-Ray SDK and patches botocore


tracer = _build_tracer()


# --- metrics --------------------------------------------------------------------------------

def metric(name: str, value: float = 1, unit: str = "Count", **dimensions: str) -> None:
    """Record one value of a metric for this invocation. Never raises: a metric must not fail a request."""
    try:
        key = tuple(sorted((k, str(v)) for k, v in dimensions.items()))
        with _lock:
            if key not in _sets and len(_sets) >= MAX_DIMENSION_SETS:
                key = tuple((k, "other") for k, _ in key)
            if key not in _sets:
                _sets[key] = _metric_set(**dict(key))
            _sets[key].add_metric(name=name, unit=unit, value=value)
    except Exception:
        logger.exception("metric dropped", extra={"metric": name})


def flush_metrics() -> None:
    """Print every buffered set as one EMF line each, and empty them."""
    with _lock:
        for target in _sets.values():
            if target.metric_set:
                try:
                    target.flush_metrics()
                finally:
                    target.clear_metrics()


def clear_metrics() -> None:
    """Forget buffered values without printing them (tests start from nothing)."""
    with _lock:
        for target in _sets.values():
            target.clear_metrics()


def error(code: str) -> None:
    """An error answered to a client (websocket `error` frame or REST error body): counted by code, logged."""
    metric("Errors", code=code)
    logger.info("error answered", extra={"code": code})


def seconds_between(start: str, end: str | None = None) -> float:
    """Seconds from one ISO stamp (core.clock's format) to another, or to now; never negative."""
    finish = parse_iso(end) if end else now()
    return max(0.0, round(finish - parse_iso(start), 3))


# --- the invocation context -----------------------------------------------------------------

_cold = True


def annotate(**keys) -> None:
    """Add keys to this invocation's log records, e.g. the conversation a `start` frame just created."""
    keys = {k: v for k, v in keys.items() if v is not None}
    if keys:
        logger.thread_safe_append_keys(**keys)


def context_keys(event) -> dict:
    """What identifies an invocation in the logs, read from whichever chalice event it is."""
    keys: dict = {}
    context = getattr(event, "context", None)
    if isinstance(event, WebsocketEvent):
        keys["connection_id"] = event.connection_id
        request_context = event.to_dict().get("requestContext") or {}
        keys["request_id"] = request_context.get("requestId")
        keys.update(_frame_keys(event.body))
    elif isinstance(event, Request):
        keys["request_id"] = (event.context or {}).get("requestId")
        keys["conversation_id"] = short((event.uri_params or {}).get("conversation_id"))
        context = getattr(event, "lambda_context", None)
    elif isinstance(event, LambdaFunctionEvent):  # a flow task: {"action": ..., "conversation_id": ...}
        payload = event.event if isinstance(event.event, dict) else {}
        keys["conversation_id"] = short(payload.get("conversation_id"))
        keys["action"] = short(payload.get("action"))
    keys["function_request_id"] = getattr(context, "aws_request_id", None)
    return {k: v for k, v in keys.items() if v is not None}


def short(value) -> str | None:
    """An id fit for a log key: a non-empty string of at most 64 characters, else None."""
    return value if isinstance(value, str) and 0 < len(value) <= 64 else None


def _frame_keys(body) -> dict:
    """conversation_id and action of a websocket frame, when it is a JSON object that names them."""
    if not isinstance(body, str) or len(body) > settings.max_frame_bytes or "{" not in body:
        return {}
    try:
        frame = json.loads(body)
    except ValueError:
        return {}
    if not isinstance(frame, dict):
        return {}
    return {"conversation_id": short(frame.get("conversation_id")), "action": short(frame.get("action"))}


def _segment_name(event, keys: dict) -> str:
    if isinstance(event, WebsocketEvent):
        return f"## ws {(event.to_dict().get('requestContext') or {}).get('routeKey', '')}".strip()
    if isinstance(event, Request):
        return f"## {event.method} {(event.context or {}).get('resourcePath', event.path)}"
    return f"## {keys.get('action') or type(event).__name__}"


def handle(event, get_response):
    """The middleware's body: context on the logs (and the trace) for this invocation, metrics flushed
    at its end whatever happens, nothing left behind for the next invocation."""
    global _cold
    logger.thread_safe_clear_keys()
    try:
        keys = context_keys(event)
    except Exception:  # an odd event must still be handled
        logger.exception("could not read the invocation's context")
        keys = {}
    keys["cold_start"], _cold = _cold, False
    logger.thread_safe_append_keys(**keys)
    try:
        if tracer is None:
            return get_response(event)
        with tracer.provider.in_subsegment(_segment_name(event, keys)) as subsegment:
            subsegment.put_annotation("cold_start", keys["cold_start"])
            for key in ("conversation_id", "connection_id", "action"):
                if keys.get(key):
                    subsegment.put_annotation(key, keys[key])
            return get_response(event)
    finally:
        flush_metrics()
        logger.thread_safe_clear_keys()
