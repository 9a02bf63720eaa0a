"""The REST side of the fuzz tests: a request written byte for byte, and what docs/protocol.md §13.1 says
any answer must look like.

Never a 5xx. A 4xx is `{"error": {"code", "message", "field"?}}` with the code its status stands for,
except the two answers Chalice / API Gateway give before the app runs, which the document lists: 415
`{"Code": "UnsupportedMediaType", ...}` for a content type the route does not take (and only then), and
the rating link's HTML pages. A 2xx is JSON (a 204 is empty).
"""
import http.client
import json
import re
import urllib.parse
from dataclasses import dataclass

from tests.fuzz.strategies import MISSING, RequestTemplate, encode, printable

STATUS_CODES = {400: {"bad_request"}, 401: {"unauthorized", "password_change_required"}, 403: {"forbidden"},
                404: {"not_found"}, 409: {"conflict", "capacity"}, 413: {"too_large"}, 429: {"rate_limited"}}
HTML_ROUTES = {"/v1/csat/{conversation_id}/{rating}"}  # a page for people, from an email link
_TRACEBACK = re.compile(r"Traceback|File \"|botocore|pynamodb", re.I)


def quote(value: str) -> str:
    """Percent-encoding of any text, a lone surrogate included (as the bytes a careless encoder writes)."""
    return urllib.parse.quote(value.encode("utf-8", "surrogatepass"), safe="")


@dataclass
class Sent:
    method: str
    url: str
    headers: dict
    body: bytes | None
    template: RequestTemplate

    def brief(self) -> str:
        body = "" if self.body is None else self.body[:300].decode("utf-8", "replace")
        more = f"... ({len(self.body)} bytes)" if self.body and len(self.body) > 300 else ""
        url = self.url if len(self.url) < 400 else f"{self.url[:300]}... ({len(self.url)} characters)"
        return printable(f"{self.method} {url} [auth {self.template.auth}, Content-Type "
                         f"{self.template.content_type!r}] {body}{more}")


def build(template: RequestTemplate, authorization: str | None) -> Sent:
    path = template.route
    for name, value in template.params.items():
        path = path.replace("{" + name + "}", quote(value))
    if isinstance(template.query, str):
        query = template.query
    else:
        query = "&".join(f"{quote(k)}={quote(v)}" for k, v in template.query)
    url = f"{path}?{query}" if query else path
    headers = {}
    if authorization is not None:
        headers["Authorization"] = authorization
    if template.content_type is not None:
        headers["Content-Type"] = template.content_type
    body = None
    if isinstance(template.body, bytes):
        body = template.body
    elif template.body is not MISSING:
        body = encode(template.body, template.ascii_only).encode("utf-8")
    return Sent(template.method, url, headers, body, template)


def send(port: int, sent: Sent, timeout: float = 60) -> tuple[int, dict, bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request(sent.method, sent.url, body=sent.body, headers=sent.headers)
        response = connection.getresponse()
        return response.status, {k.lower(): v for k, v in response.getheaders()}, response.read()
    finally:
        connection.close()


def content_type_taken(content_type: str | None, taken: list[str]) -> bool:
    """Whether Chalice lets this Content-Type reach the route (none counts as JSON)."""
    if content_type is None:
        content_type = "application/json"
    parts = {p.strip() for p in re.split("[,;]", content_type.lower())}
    taken = {t.lower() for t in taken}
    return "*/*" in content_type or "*/*" in taken or bool(parts & taken)


def parameter_names(template: RequestTemplate) -> set[str]:
    """What a bad path parameter or query string may be named in a 400: its name, or `query`."""
    names = set(template.params) | {"query"}
    if isinstance(template.query, list):  # decoded as the server decodes them (bad UTF-8 as U+FFFD)
        names |= {urllib.parse.unquote(quote(name)) for name, _ in template.query}
    else:
        names |= {urllib.parse.unquote(part.split("=")[0]) for part in template.query.split("&")}
    return names


def check(sent: Sent, taken: list[str], status: int, headers: dict, body: bytes) -> None:
    where = f"{sent.brief()} -> {status} {body[:500]!r}"
    assert status < 500, f"a 5xx: {where}"
    if not content_type_taken(sent.template.content_type, taken):
        if status == 400:  # the app's parameter check (a middleware) runs before Chalice looks at the type
            field = json.loads(body)["error"].get("field")
            assert field in parameter_names(sent.template), f"a content type the route does not take: {where}"
            return
        assert status == 415, f"a content type the route does not take, not refused: {where}"
        assert json.loads(body).get("Code") == "UnsupportedMediaType", where
        return
    assert status != 415, f"415 for a content type the route takes: {where}"
    if sent.template.route in HTML_ROUTES and status in (200, 404, 409):
        assert headers.get("content-type", "").startswith("text/html"), where
        return
    if 200 <= status < 300:
        if status == 204:
            assert body == b"", f"a 204 with a body: {where}"
            return
        try:
            data = json.loads(body)
        except ValueError:
            raise AssertionError(f"a 2xx that is not JSON: {where}") from None
        assert isinstance(data, dict), f"a 2xx that is not a JSON object: {where}"
        return
    assert status in STATUS_CODES, f"an undocumented status: {where}"
    try:
        data = json.loads(body)
    except ValueError:
        raise AssertionError(f"an error that is not JSON: {where}") from None
    error = data.get("error") if isinstance(data, dict) else None
    assert isinstance(error, dict), f"an error without the error body: {where}"
    assert error.get("code") in STATUS_CODES[status], f"code does not match the status: {where}"
    message = error.get("message")
    assert isinstance(message, str) and message.strip(), f"an error without a message: {where}"
    assert not _TRACEBACK.search(message), f"internals in an error message: {where}"
    if error["code"] == "bad_request":
        assert isinstance(error.get("field"), str) and error["field"], f"bad_request naming no field: {where}"
    if status == 429:
        assert isinstance(error.get("retry_after"), (int, float)) and headers.get("retry-after"), where
