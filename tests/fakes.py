"""Test doubles that honour the real interfaces (no Mock objects asserting calls)."""
import json
import threading

from botocore.exceptions import ClientError


class ManagementApi:
    """Stands in for the apigatewaymanagementapi client: records frames; unknown ids are 410 Gone."""

    def __init__(self):
        self.live: set[str] = set()
        self.frames: dict[str, list[dict]] = {}
        self._lock = threading.Lock()

    def connect(self, connection_id: str) -> None:
        with self._lock:
            self.live.add(connection_id)
            self.frames.setdefault(connection_id, [])

    def drop(self, connection_id: str) -> None:
        with self._lock:
            self.live.discard(connection_id)

    def post_to_connection(self, ConnectionId: str, Data: bytes):  # noqa: N803 (boto3's names)
        with self._lock:
            if ConnectionId not in self.live:
                raise ClientError({"Error": {"Code": "GoneException", "Message": "Gone"},
                                   "ResponseMetadata": {"HTTPStatusCode": 410}}, "PostToConnection")
            self.frames[ConnectionId].append(json.loads(Data))
        return {}

    def get_connection(self, ConnectionId: str):  # noqa: N803
        with self._lock:
            if ConnectionId not in self.live:
                raise ClientError({"Error": {"Code": "GoneException", "Message": "Gone"},
                                   "ResponseMetadata": {"HTTPStatusCode": 410}}, "GetConnection")
        return {"ConnectedAt": "2026-11-22T16:04:05.123Z"}

    def delete_connection(self, ConnectionId: str):  # noqa: N803
        self.drop(ConnectionId)
        return {}

    def of(self, connection_id: str, type_: str | None = None) -> list[dict]:
        with self._lock:
            frames = list(self.frames.get(connection_id, []))
        return [f for f in frames if type_ is None or f.get("type") == type_]

    def clear(self) -> None:
        with self._lock:
            for frames in self.frames.values():
                frames.clear()
