"""Small helpers the browser tests share."""
import time
import uuid

WAIT = 8.0  # seconds for anything the server or the browser should do "at once"


def unique(prefix: str) -> str:
    """A distinctive name, so a test finds its own visitor among the shared stack's others."""
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def eventually(check, timeout: float = WAIT, interval: float = 0.1):
    """Call `check` until it returns a truthy value (returned) or the time is up (AssertionError)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")
