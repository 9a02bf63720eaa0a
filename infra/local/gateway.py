"""A WebSocket gateway that behaves like API Gateway's, calling the Chalice app's handlers.

What the app sees is what it would see on AWS: `$connect` (refusing the upgrade with the handler's
status code, before any socket opens), `$default` with each text frame, `$disconnect`, and a
management endpoint (`POST/GET/DELETE /@connections/{id}`, 410 Gone for unknown ids) reached
through the same `apigatewaymanagementapi` client, only at another endpoint. Like API Gateway, the
management endpoint takes only requests SigV4-signed with the app's credentials (sigv4.py).
"""
import asyncio
import base64
import json
import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import unquote, urlsplit

from aiohttp import WSMsgType, web
from botocore.credentials import Credentials

from . import sigv4
from .faults import HEADER as FAULT_HEADER

log = logging.getLogger("parley.gateway")

# API Gateway's limits: 32 KB frames, 128 KB messages. Frames between the two reach the app,
# which answers `too_large`; a message over 128 KB closes the socket with 1009, as on AWS.
MAX_MESSAGE = 128 * 1024
# On AWS every frame is a Lambda invocation of its own; here one process's thread pool (32 workers) plays
# all of them, so one socket's frames take at most this many workers at once and the rest wait their turn
# (in memory, in arrival order): a socket firing hundreds of frames cannot starve everyone else's. An
# agent's socket carries up to their capacity of chats: at 4, the agents' sockets were the serial point at
# 100 conversations (bench/load.py: 49 of 67 messages/s over 60 s, replies 8x slower than questions); at 10,
# 66.3 of 66.7 with p99 0.67 s.
FRAMES_IN_FLIGHT = int(os.environ.get("PARLEY_FRAMES_IN_FLIGHT") or 10)


def _now_ms() -> int:
    return int(time.time() * 1000)


class LambdaContext:
    """The few attributes of a Lambda context the app and its libraries read."""
    def __init__(self, name: str):
        self.function_name = name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = 256
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = base64.b32encode(os.urandom(10)).decode().lower()

    def get_remaining_time_in_millis(self) -> int:
        return 30000


class WebSocketGateway:
    def __init__(self, chalice_app, executor: ThreadPoolExecutor, credentials: Credentials, *,
                 stage: str = "ws", api_id: str = "local", domain: str = "127.0.0.1",
                 region: str = "us-east-1"):
        self._credentials, self._region = credentials, region
        self._handlers = {key: chalice_app.handler_map[cfg.name]
                          for key, cfg in chalice_app.websocket_handlers.items()}
        self._executor = executor
        self._stage, self._api_id, self._domain = stage, api_id, domain
        self.connections: dict[str, tuple[web.WebSocketResponse, dict]] = {}

    # --- the client side ---------------------------------------------------------------------

    async def upgrade(self, request: web.Request) -> web.StreamResponse:
        connection_id = base64.b64encode(os.urandom(9)).decode()
        connect = self._event("$connect", "CONNECT", connection_id, request)
        connect["queryStringParameters"] = dict(request.query) or None
        connect["headers"] = dict(request.headers)
        result = await self._invoke("$connect", connect)
        status = int((result or {}).get("statusCode", 200))
        if status >= 300:
            return web.Response(status=status, body=(result or {}).get("body") or "",
                                content_type="application/json")
        ws = web.WebSocketResponse(max_msg_size=MAX_MESSAGE, autoping=True)
        await ws.prepare(request)
        meta = {"connected_at": _now_ms(), "last_active": _now_ms(),
                "source_ip": request.remote, "user_agent": request.headers.get("User-Agent", "")}
        self.connections[connection_id] = (ws, meta)
        pending: set[asyncio.Task] = set()
        turns = asyncio.Semaphore(FRAMES_IN_FLIGHT)
        try:
            async for msg in ws:
                meta["last_active"] = _now_ms()
                if msg.type in (WSMsgType.TEXT, WSMsgType.BINARY):
                    body = msg.data if msg.type == WSMsgType.TEXT else msg.data.decode("utf-8", "replace")
                    event = self._event("$default", "MESSAGE", connection_id, request)
                    event["body"] = body
                    # Like Lambda, frames are handled concurrently, not queued behind one another; but a
                    # few at a time per socket, or one socket's flood would take every worker.
                    task = asyncio.ensure_future(self._invoke_in_turn(turns, event))
                    pending.add(task)
                    task.add_done_callback(pending.discard)
                elif msg.type == WSMsgType.ERROR:
                    log.info("socket error %s: %s", connection_id, ws.exception())
        finally:
            if pending:
                await asyncio.gather(*pending, return_exceptions=True)
            self.connections.pop(connection_id, None)
            await self._invoke("$disconnect", self._event("$disconnect", "DISCONNECT", connection_id, request))
        return ws

    def _event(self, route: str, kind: str, connection_id: str, request: web.Request) -> dict:
        return {"requestContext": {
            "routeKey": route, "eventType": kind, "connectionId": connection_id, "apiId": self._api_id,
            "stage": self._stage, "domainName": self._domain, "requestTimeEpoch": _now_ms(),
            "messageDirection": "IN", "identity": {"sourceIp": request.remote}},
            "isBase64Encoded": False}

    async def _invoke_in_turn(self, turns: asyncio.Semaphore, event: dict):
        async with turns:
            return await self._invoke("$default", event)

    async def _invoke(self, route: str, event: dict):
        handler = self._handlers.get(route)
        if handler is None:
            return None
        loop = asyncio.get_running_loop()
        try:
            return await loop.run_in_executor(self._executor, handler, event, LambdaContext(route))
        except Exception:
            log.exception("%s handler raised", route)
            # API Gateway answers a failed $connect with 500 and drops a failed message.
            return {"statusCode": 500, "body": json.dumps({"message": "Internal server error"})}

    # --- the management API (@connections) ----------------------------------------------------

    def _signed(self, handler):
        """The handler, behind API Gateway's check: 403 unless signed with the app's credentials."""
        async def checked(request: web.Request) -> web.StreamResponse:
            body = await request.read()
            url = f"{request.scheme}://{request.host}{request.raw_path}"
            try:
                sigv4.verify(request.method, url, request.headers, body, self._credentials, self._region)
            except sigv4.SignatureRejectedError as exc:
                return web.json_response({"message": exc.message}, status=403,
                                         headers={"x-amzn-ErrorType": exc.error_type})
            return await handler(request)
        return checked

    async def manage(self, method: str, connection_id: str, data: bytes) -> tuple[int, dict, bytes]:
        """One management call (POST, GET or DELETE on @connections/{id}): (status, headers, body)."""
        entry = self.connections.get(connection_id)
        if entry is None:
            return _GONE
        ws, meta = entry
        if method == "POST":
            if len(data) > MAX_MESSAGE:
                return _error(413, "Message too long", "PayloadTooLargeException")
            try:
                await ws.send_str(data.decode("utf-8"))
            except (ConnectionError, RuntimeError):
                return _GONE
            return 200, {}, b""
        if method == "GET":
            return 200, {"Content-Type": "application/json"}, json.dumps({
                "ConnectedAt": _iso(meta["connected_at"]), "LastActiveAt": _iso(meta["last_active"]),
                "Identity": {"SourceIp": meta["source_ip"], "UserAgent": meta["user_agent"]}}).encode()
        await ws.close(code=1000, message=b"closed by the server")
        return 204, {}, b""

    async def _managed(self, request: web.Request) -> web.Response:
        status, headers, body = await self.manage(request.method, request.match_info["connection_id"],
                                                  await request.read())
        return web.Response(status=status, headers=headers, body=body)

    def routes(self, ws_path: str, management_prefix: str) -> list:
        at = f"{management_prefix}/@connections/{{connection_id}}"
        managed = self._signed(self._managed)
        return [web.get(ws_path, self.upgrade), web.post(at, managed), web.get(at, managed), web.delete(at, managed)]

    def in_process(self, callback_url: str, loop: asyncio.AbstractEventLoop) -> "InProcessManagement":
        """A botocore `before-send` handler that answers the app's management calls to `callback_url` without
        HTTP: the same signature check and the same answers, on the gateway's loop."""
        return InProcessManagement(self, callback_url, loop)

    async def drop(self, connection_id: str) -> None:
        """Close one socket from the server's side, as when its network goes (faults.py makes its 410s true)."""
        entry = self.connections.get(connection_id)
        if entry is not None:
            await entry[0].close(code=1001, message=b"connection lost")

    async def close_all(self) -> None:
        for ws, _ in list(self.connections.values()):
            await ws.close(code=1001, message=b"server shutting down")


class InProcessManagement:
    """The app's `apigatewaymanagementapi` calls to this gateway, answered in this process.

    bench/load.py --profile put a tenth of the stack's CPU in each delivery's HTTP round trip to its own
    gateway (urllib3, http.client, aiohttp's server). botocore still builds, signs and parses every call, and
    the signature is checked as the HTTP endpoint checks it; only the socket in between is gone. A call made
    on the gateway's own loop (none is: handlers run on the executor's threads) would wait for itself, so it
    goes over HTTP as before."""

    def __init__(self, gateway: WebSocketGateway, callback_url: str, loop: asyncio.AbstractEventLoop):
        self._gateway, self._prefix, self._loop = gateway, callback_url.rstrip("/") + "/", loop

    def __call__(self, request, event_name: str = "", **kwargs):
        if not event_name.startswith("before-send.apigatewaymanagementapi.") or \
                not request.url.startswith(self._prefix) or FAULT_HEADER in request.headers:
            return None  # another service, another endpoint, or answered by faults.py already
        try:
            if asyncio.get_running_loop() is self._loop:
                return None
        except RuntimeError:
            pass  # no loop in this thread: the usual case
        from botocore.awsrequest import AWSResponse
        from moto.core.botocore_stubber import MockRawResponse
        path = urlsplit(request.url).path[len(urlsplit(self._prefix).path):]
        if not path.startswith(("@connections/", "%40connections/")):
            return None
        body = request.body or b""
        if isinstance(body, str):
            body = body.encode("utf-8")
        from botocore.compat import HTTPHeaders
        headers = HTTPHeaders()  # as they would arrive: str values, and the Host that urllib3 would add
        for name, value in request.headers.items():
            headers[name] = value.decode("utf-8") if isinstance(value, bytes) else value
        if "Host" not in headers:
            headers["Host"] = urlsplit(request.url).netloc
        try:
            sigv4.verify(request.method, request.url, headers, body, self._gateway._credentials,
                         self._gateway._region)
        except sigv4.SignatureRejectedError as exc:
            status, headers, payload = _error(403, exc.message, exc.error_type)
        else:
            connection_id = unquote(path.split("/", 1)[1])
            future = asyncio.run_coroutine_threadsafe(
                self._gateway.manage(request.method, connection_id, body), self._loop)
            status, headers, payload = future.result(timeout=10)
        return AWSResponse(request.url, status, headers, MockRawResponse(payload))


def _error(status: int, message: str, error_type: str) -> tuple[int, dict, bytes]:
    return status, {"Content-Type": "application/json", "x-amzn-ErrorType": error_type}, \
        json.dumps({"message": message}).encode()


_GONE = _error(410, "Gone", "GoneException")


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
