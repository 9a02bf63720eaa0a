"""REST edges: JSON bodies in, domain errors out as `{"error": {...}}` with the right status."""
import functools
import json
import logging

from chalice import Response

from chalicelib import observability
from chalicelib.core import origins, validate
from chalicelib.errors import BadRequestError, OriginNotAllowedError, ParleyError, TooLargeError

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
# Every path parameter is an id or a site key (each ≤ 64 characters when made): a longer one names
# nothing, and one past DynamoDB's key sizes (2,048 bytes) would fail the lookup with a 500.
MAX_PATH_PARAM = 64


def json_body(request) -> dict:
    """The request's JSON object, refused whole unless it is bounded, parseable, valid text."""
    raw = request.raw_body or b""
    if len(raw) > MAX_BODY:
        raise TooLargeError(f"body is larger than {MAX_BODY // 1024} KB")
    if not raw.strip():
        return {}
    try:
        text = raw.decode(json.detect_encoding(raw)) if isinstance(raw, bytes) else raw  # as json.loads would
        if validate.too_deep(text):
            raise BadRequestError(f"body is nested deeper than {validate.MAX_DEPTH} levels", field="body")
        body = json.loads(text)
    except (ValueError, UnicodeDecodeError):
        raise BadRequestError("body is not valid JSON", field="body") from None
    if not isinstance(body, dict):
        raise BadRequestError("body must be a JSON object", field="body")
    validate.check_text(body, "body")
    return body


def client_ip(headers: dict | None, context: dict | None) -> str | None:
    """The address a request came from, for per-IP limits.

    Straight to API Gateway, it is the `sourceIp` it saw. Behind the stage's CloudFront (the request
    carries X-Amz-Cf-Id), API Gateway sees an edge server; CloudFront appends the viewer's address to
    X-Forwarded-For, and API Gateway appends the edge's after it: the viewer is the entry before the
    peer API Gateway saw. A distribution that forwards CloudFront-Viewer-Address is read first."""
    lowered = {k.lower(): v for k, v in (headers or {}).items()}
    source = ((context or {}).get("identity") or {}).get("sourceIp")
    viewer = lowered.get("cloudfront-viewer-address")
    if viewer and ":" in viewer:
        return viewer.rsplit(":", 1)[0].strip("[]")[:64]
    hops = [h.strip() for h in (lowered.get("x-forwarded-for") or "").split(",") if h.strip()]
    if lowered.get("x-amz-cf-id") and hops:
        if hops[-1] == source and len(hops) > 1:
            hops.pop()
        return hops[-1][:64]
    return source


def check_params(request) -> None:
    """Path parameters and query strings are client text too, checked once for every route; path
    parameters are ids, bounded here so that no route hands an unbounded one to DynamoDB."""
    for params in (request.uri_params, request.query_params):
        for name in params or {}:
            if not validate.is_text(name):
                raise validate.text_error("query")
            # a query string may repeat a name; routes read one value, but every one is checked
            values = params.getlist(name) if hasattr(params, "getlist") else [params[name]]
            if not all(validate.is_text(value) for value in values):
                raise validate.text_error(name or "query")  # `?=%00` has a name that names nothing
    for name, value in (request.uri_params or {}).items():
        if len(value) > MAX_PATH_PARAM:
            raise BadRequestError(f"{name} must be at most {MAX_PATH_PARAM} characters", field=name)


def checked_params(request, get_response):
    """Middleware for every REST route: bad parameters are a 400 before any route reads them."""
    try:
        check_params(request)
    except BadRequestError as exc:
        return error_response(exc)
    return get_response(request)


def error_response(exc: ParleyError) -> Response:
    observability.error(exc.code)
    headers = {"Content-Type": "application/json"}
    if exc.status == 429:
        headers["Retry-After"] = str(max(1, round(getattr(exc, "retry_after", 1))))
    return Response(body={"error": exc.to_dict()}, status_code=exc.status, headers=headers)


def _answer(view, args, kwargs, passthrough: tuple = ()) -> Response:
    """The view's response; domain errors (but `passthrough`) as their status, anything else a 500."""
    try:
        return view(*args, **kwargs)
    except passthrough:
        raise
    except ParleyError as exc:
        return error_response(exc)
    except Exception:
        log.exception("request failed")
        observability.error("internal")
        return Response(body={"error": {"code": "internal", "message": "something went wrong"}},
                        status_code=500, headers={"Content-Type": "application/json"})


def translate_errors(view):
    """Domain errors become their status; anything else a 500 with no internals in the body."""
    @functools.wraps(view)
    def wrapped(*args, **kwargs):
        return _answer(view, args, kwargs)
    return wrapped


def visitor_cors(current_request):
    """The widget's routes decide CORS per request (Chalice's CORSConfig has one static origin): a page
    the site allows reads every answer, its Origin echoed; a refused page gets its 403 without CORS
    headers, so its browser lets it read nothing. Also translates errors, like translate_errors."""
    def decorate(view):
        @functools.wraps(view)
        def wrapped(*args, **kwargs):
            origin = origins.from_headers(current_request().headers)
            try:
                response = _answer(view, args, kwargs, passthrough=(OriginNotAllowedError,))
            except OriginNotAllowedError as exc:
                return _with_headers(error_response(exc), {"Vary": "Origin"})
            if not isinstance(response, Response):
                response = Response(body=response, status_code=200)
            return _with_headers(response, origins.cors_headers(origin))
        return wrapped
    return decorate


def preflight(methods: str) -> Response:
    """204 to an OPTIONS preflight; visitor_cors adds the origin, or refuses it."""
    return Response(body="", status_code=204, headers=origins.preflight_headers(methods))


def _with_headers(response: Response, headers: dict) -> Response:
    response.headers = {**(response.headers or {}), **headers}
    return response
