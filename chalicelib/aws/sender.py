"""Delivers frames to websocket connections through API Gateway's management API, in parallel.

One client and one thread pool per container. A connection that answers 410 Gone is forgotten
(that connection, not the sender's) and delivery goes on to the others. `on_gone` decides: a socket
still in its $connect answers 410 too (API Gateway holds it only once $connect returns), and is kept.
"""
import json
import logging
import threading
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from chalicelib.config import settings

log = logging.getLogger(__name__)

OK, GONE, FAILED = "ok", "gone", "failed"


class Sender:
    def __init__(self, endpoint_url: str = "", client=None, workers: int = 16):
        self._endpoint_url = endpoint_url
        self._client = client
        self._workers = workers
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # on_gone(connection_id) -> True when it was forgotten, False when it is kept (still opening)
        self.on_gone: Callable[[str], bool] = lambda connection_id: True

    def configure_from_event(self, request_context: dict) -> None:
        """Without a configured endpoint, derive API Gateway's from the first websocket event."""
        if self._endpoint_url or self._client is not None:
            return
        api_id, stage = request_context.get("apiId"), request_context.get("stage")
        if api_id and stage:
            self._endpoint_url = f"https://{api_id}.execute-api.{settings.region}.amazonaws.com/{stage}"

    @property
    def client(self):
        with self._lock:
            if self._client is None:
                if not self._endpoint_url:
                    raise RuntimeError("no websocket endpoint: set PARLEY_WS_CALLBACK_URL")
                self._client = boto3.client(
                    "apigatewaymanagementapi", endpoint_url=self._endpoint_url, region_name=settings.region,
                    config=Config(max_pool_connections=max(10, self._workers), retries={"max_attempts": 2},
                                  connect_timeout=2, read_timeout=5))
            return self._client

    def send(self, connection_id: str, frame: dict) -> bool:
        """Post one frame; False when the connection is gone (and now forgotten), not open yet, or
        unreachable."""
        return self._post(connection_id, _encode(frame)) == OK

    def broadcast(self, connection_ids: Iterable[str], frame: dict) -> list[str]:
        """Post the same frame to every connection, in parallel; returns the ids found gone."""
        data = _encode(frame)
        return self._deliver([(cid, data) for cid in dict.fromkeys(connection_ids)])

    def send_each(self, deliveries: list[tuple[str, dict]]) -> list[str]:
        """Post a possibly different frame to each connection, in parallel; returns the ids found gone."""
        return self._deliver([(cid, _encode(frame)) for cid, frame in deliveries])

    def _deliver(self, posts: list[tuple[str, bytes]]) -> list[str]:
        if len(posts) <= 1:
            outcomes = [self._post(cid, data) for cid, data in posts]
        else:
            outcomes = list(self._executor().map(lambda p: self._post(*p), posts))
        return [cid for (cid, _), outcome in zip(posts, outcomes, strict=False) if outcome == GONE]

    def exists(self, connection_id: str) -> bool:
        """Whether API Gateway holds this connection (GetConnection), or will once its $connect returns;
        a gone one is forgotten, as a post that finds it gone forgets it."""
        try:
            self.client.get_connection(ConnectionId=connection_id)
            return True
        except ClientError as exc:
            if not _is_gone(exc):
                raise
        return not self._forget(connection_id)

    def close(self, connection_id: str) -> None:
        try:
            self.client.delete_connection(ConnectionId=connection_id)
        except ClientError as exc:
            if not _is_gone(exc):
                raise

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="fanout")
            return self._pool

    def _post(self, connection_id: str, data: bytes) -> str:
        try:
            self.client.post_to_connection(ConnectionId=connection_id, Data=data)
            return OK
        except ClientError as exc:
            if not _is_gone(exc):
                # The message is stored; this recipient catches up with `history`. Others still get it.
                log.warning("post_to_connection failed", extra={"connection_id": connection_id,
                                                                 "error": exc.response["Error"].get("Code")})
                return FAILED
        except (BotoCoreError, OSError) as exc:
            log.warning("post_to_connection failed", extra={"connection_id": connection_id, "error": repr(exc)})
            return FAILED
        # Not open yet (its $connect is running): not delivered, and not gone. It reads `history` once open.
        return GONE if self._forget(connection_id) else FAILED

    def _forget(self, connection_id: str) -> bool:
        try:
            return self.on_gone(connection_id) is not False
        except Exception:
            log.exception("forgetting a gone connection failed", extra={"connection_id": connection_id})
            return True


def _is_gone(exc: ClientError) -> bool:
    return (exc.response.get("Error", {}).get("Code") == "GoneException"
            or exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 410)


def _encode(frame: dict) -> bytes:
    return json.dumps(frame, separators=(",", ":"), ensure_ascii=False).encode()
