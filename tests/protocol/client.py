"""A small asyncio client for the wire contract (PROTOCOL.md), on the real `websockets` library.

Every wait is bounded: a bug in the server makes a test fail with a readable message, never hang.

    async with Clients(stack) as clients:
        visitor = await clients.visitor()                 # new session + socket
        agent = await clients.agent(agent_token)
        ack = await visitor.ack("start")                  # asserts type == "ack"
        err = await visitor.error("send", text="")        # asserts type == "error"
        event = await agent.next_event("message", conversation_id=cid)
"""
import asyncio
import itertools
import json
import urllib.parse
from collections.abc import Callable
from typing import Any

from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

DEFAULT_TIMEOUT = 5.0
REPLY_TYPES = ("ack", "error", "pong")
_refs = itertools.count(1)


def ws_url(base: str, token: str | None) -> str:
    return base if token is None else f"{base}?token={urllib.parse.quote(token, safe='')}"


async def open_socket(base: str, token: str | None, timeout: float = DEFAULT_TIMEOUT):
    """The raw websockets connection (raises InvalidStatus when the upgrade is refused)."""
    return await connect(ws_url(base, token), open_timeout=timeout, close_timeout=1, proxy=None,
                         compression=None, max_size=None)


class WsClient:
    def __init__(self, ws, name: str = "client"):
        self.ws = ws
        self.name = name
        self.frames: list[dict] = []      # every server frame, in arrival order
        self.events: list[dict] = []      # frames that are not replies (message, typing, inbox, ...)
        self.replies: list[dict] = []     # ack / error / pong frames not yet claimed by a waiter
        self.raw: list[str] = []          # frames that were not JSON (should never happen)
        self._consumed: set[int] = set()  # indexes into events taken by next_event
        self._changed = asyncio.Event()
        self.closed = False
        self._reader = asyncio.create_task(self._read())

    @classmethod
    async def open(cls, base: str, token: str, name: str = "client",
                   timeout: float = DEFAULT_TIMEOUT) -> "WsClient":
        return cls(await open_socket(base, token, timeout), name)

    # --- reading ---------------------------------------------------------------------------

    async def _read(self) -> None:
        try:
            async for data in self.ws:
                try:
                    frame = json.loads(data)
                except ValueError:
                    self.raw.append(data)
                    continue
                self.frames.append(frame)
                if isinstance(frame, dict) and frame.get("type") in REPLY_TYPES:
                    self.replies.append(frame)
                else:
                    self.events.append(frame)
                self._changed.set()
        except ConnectionClosed:
            pass
        finally:
            self.closed = True
            self._changed.set()

    async def _wait(self, find: Callable[[], Any], timeout: float, what: str):
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            self._changed.clear()
            hit = find()
            if hit is not None:
                return hit
            if self.closed:
                raise AssertionError(f"{self.name}: socket closed ({self.close_code()}) while waiting for "
                                     f"{what}; last frames: {self.frames[-5:]}")
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise AssertionError(f"{self.name}: no {what} within {timeout}s; last frames: {self.frames[-5:]}")
            try:
                await asyncio.wait_for(self._changed.wait(), remaining)
            except TimeoutError:
                pass

    def close_code(self):
        try:
            return self.ws.close_code
        except Exception:  # pragma: no cover
            return None

    # --- requests and replies --------------------------------------------------------------

    async def send_raw(self, data: str) -> None:
        await self.ws.send(data)

    async def send_frame(self, action: str | None = None, *, ref: Any = "auto", **fields) -> Any:
        """Send `{"action", "ref", **fields}` without waiting; returns the ref (None: no ref sent)."""
        frame = {}
        if action is not None:
            frame["action"] = action
        if ref == "auto":
            ref = f"{self.name}-{next(_refs)}"
        if ref is not None:
            frame["ref"] = ref
        frame.update(fields)
        await self.ws.send(json.dumps(frame, ensure_ascii=False))  # as JSON.stringify does
        return ref

    async def reply(self, ref: Any, timeout: float = DEFAULT_TIMEOUT) -> dict:
        """The reply (ack, error or pong) carrying this ref; ref None matches a reply without one."""
        def find():
            for i, frame in enumerate(self.replies):
                if frame.get("ref") == ref:
                    return self.replies.pop(i)
            return None
        return await self._wait(find, timeout, f"reply with ref {ref!r}")

    async def request(self, action: str, timeout: float = DEFAULT_TIMEOUT, **fields) -> dict:
        ref = await self.send_frame(action, **fields)
        return await self.reply(ref, timeout)

    async def ack(self, action: str, timeout: float = DEFAULT_TIMEOUT, **fields) -> dict:
        frame = await self.request(action, timeout=timeout, **fields)
        assert frame.get("type") == "ack", f"{self.name}: {action} {fields} was not acked: {frame}"
        return frame

    async def error(self, action: str, timeout: float = DEFAULT_TIMEOUT, **fields) -> dict:
        frame = await self.request(action, timeout=timeout, **fields)
        assert frame.get("type") == "error", f"{self.name}: {action} {fields} should fail, got {frame}"
        return frame

    async def ping(self, timeout: float = DEFAULT_TIMEOUT) -> None:
        """A ping answered by a pong with the same ref: proof the socket is open and served."""
        frame = await self.request("ping", timeout=timeout)
        assert frame.get("type") == "pong", f"{self.name}: ping answered with {frame}"
        assert not self.closed, f"{self.name}: socket closed"

    # --- events ----------------------------------------------------------------------------

    def _matches(self, frame: dict, type_: str, where: Callable[[dict], bool] | None, fields: dict) -> bool:
        if frame.get("type") != type_:
            return False
        if any(frame.get(k) != v for k, v in fields.items()):
            return False
        return where is None or bool(where(frame))

    async def next_event(self, type_: str, timeout: float = DEFAULT_TIMEOUT,
                         where: Callable[[dict], bool] | None = None, **fields) -> dict:
        """The oldest event of this type (and fields) not taken yet; takes it."""
        def find():
            for i, frame in enumerate(self.events):
                if i not in self._consumed and self._matches(frame, type_, where, fields):
                    self._consumed.add(i)
                    return frame
            return None
        return await self._wait(find, timeout, f"{type_!r} event {fields or ''}")

    def matching(self, type_: str, where: Callable[[dict], bool] | None = None, **fields) -> list[dict]:
        """Every event of this type (and fields) received so far, taken or not."""
        return [f for f in self.events if self._matches(f, type_, where, fields)]

    async def assert_no_event(self, type_: str, within: float = 0.8,
                              where: Callable[[dict], bool] | None = None, **fields) -> None:
        """Wait `within` seconds; fail if an untaken event of this type (and fields) arrived."""
        await asyncio.sleep(within)
        found = [f for i, f in enumerate(self.events)
                 if i not in self._consumed and self._matches(f, type_, where, fields)]
        assert not found, f"{self.name}: unexpected {type_} event(s): {found}"

    # --- closing ---------------------------------------------------------------------------

    async def close(self) -> None:
        try:
            await asyncio.wait_for(self.ws.close(), 2)
        except Exception:
            pass
        self._reader.cancel()
        try:
            await self._reader
        except (asyncio.CancelledError, Exception):
            pass

    def abort(self) -> None:
        """Drop the TCP connection with no close frame, like a phone losing its network."""
        self.ws.transport.abort()


class Clients:
    """Opens sockets and visitor sessions for one test, and closes every socket at the end."""

    def __init__(self, stack):
        self.stack = stack
        self.open_clients: list[WsClient] = []

    async def __aenter__(self) -> "Clients":
        return self

    async def __aexit__(self, *exc) -> None:
        await asyncio.gather(*(c.close() for c in self.open_clients), return_exceptions=True)

    async def rest(self, method: str, path: str, body=None, token: str | None = None) -> tuple[int, dict]:
        return await asyncio.to_thread(self.stack.request, method, path, body, token)

    async def session(self, site_key: str = "demo", **fields) -> dict:
        return await asyncio.to_thread(self.stack.visitor, site_key, **fields)

    async def socket(self, token: str, name: str = "client") -> WsClient:
        client = await WsClient.open(self.stack.ws, token, name)
        self.open_clients.append(client)
        return client

    async def visitor(self, site_key: str = "demo", name: str = "visitor", session: dict | None = None,
                      **fields) -> WsClient:
        """A socket for a new visitor session (or the given one); `.session` holds the session."""
        session = session or await self.session(site_key, **fields)
        client = await self.socket(session["token"], name)
        client.session = session
        client.visitor_id = session["visitor_id"]
        return client

    async def agent(self, login: dict, name: str = "agent") -> WsClient:
        client = await self.socket(login["token"], name)
        client.login = login
        client.agent_id = login["agent"]["id"]
        return client


SCENARIO_TIMEOUT = 45.0


def scenario_timeout(seconds: float = SCENARIO_TIMEOUT):
    """One test's whole scenario, bounded (`async with scenario_timeout():`): TimeoutError past it.

    pytest-asyncio (pytest.ini) runs each async test in a fresh event loop of its own."""
    return asyncio.timeout(seconds)


# --- small protocol helpers shared by the tests ------------------------------------------------

async def start(visitor: WsClient, **fields) -> dict:
    """`start` (optionally with text); returns the conversation."""
    frame = await visitor.ack("start", **fields)
    conversation = frame.get("conversation")
    assert isinstance(conversation, dict) and conversation.get("id"), f"start ack without conversation: {frame}"
    return conversation


async def send(client: WsClient, conversation_id: str, text: str, client_msg_id: str | None = None,
               **fields) -> dict:
    """`send` that must be acked; returns the stored message."""
    cmid = client_msg_id or f"{client.name}-{next(_refs)}"
    frame = await client.ack("send", conversation_id=conversation_id, client_msg_id=cmid, text=text, **fields)
    message = frame.get("message")
    assert isinstance(message, dict) and isinstance(message.get("seq"), int), f"send ack without message: {frame}"
    return message


async def rest_messages(clients: Clients, token: str, conversation_id: str, page: int = 100) -> list[dict]:
    """Every message of a conversation through REST, paging with after_seq."""
    out: list[dict] = []
    after = 0
    for _ in range(100):
        status, body = await clients.rest(
            "GET", f"/v1/conversations/{conversation_id}/messages?after_seq={after}&limit={page}", token=token)
        assert status == 200, (status, body)
        out += body["messages"]
        if not body.get("has_more"):
            return out
        assert body["messages"], f"has_more with an empty page: {body}"
        after = body["messages"][-1]["seq"]
    raise AssertionError("paging did not end")
