"""Small helpers shared by the services: clock and identifiers."""
import time
import uuid
from datetime import UTC, datetime


def now() -> float:
    return time.time()


def iso(ts: float | None = None) -> str:
    """ISO 8601 UTC with milliseconds, the wire format of every time."""
    dt = datetime.fromtimestamp(now() if ts is None else ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
