"""The one clock and the one stamp format: every time Parley stores or sends is ISO 8601 UTC with
milliseconds (`2026-12-03T14:05:09.123Z`), read back with `parse_iso`.

`now()` reads the clock the composition root installed (bootstrap.configure): the system clock on
AWS, a test's own clock in tests, for every module at once.
"""
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
_source: Callable[[], float] = time.time


def now() -> float:
    return _source()


def use(source: Callable[[], float] | None) -> None:
    """Install a clock (None: the system's). For bootstrap.configure only."""
    global _source
    _source = source or time.time


def iso(ts: float | None = None) -> str:
    """ISO 8601 UTC with milliseconds, the wire format of every time."""
    dt = datetime.fromtimestamp(now() if ts is None else ts, tz=UTC)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def parse_iso(stamp: str) -> float:
    """Epoch seconds of a stamp `iso()` wrote; any other ISO 8601 form with a zone is read too
    (EventBridge's and DynamoDB streams' `...Z` without milliseconds). ValueError otherwise."""
    try:
        return datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC).timestamp()
    except (TypeError, ValueError):
        parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
        if parsed.tzinfo is None:
            raise ValueError(f"no time zone in {stamp!r}") from None
        return parsed.timestamp()


def one_ms_after(stamp: str) -> str:
    """The stamp one millisecond later, in whole milliseconds (a float epoch could round back to it)."""
    moment = datetime.strptime(stamp, STAMP_FORMAT).replace(tzinfo=UTC) + timedelta(milliseconds=1)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"
