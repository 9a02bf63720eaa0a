"""Which profile runs, its settings, and the tally of frames and requests the fuzz tests actually sent."""
import collections
import contextlib
import os
import threading
import time
from pathlib import Path

from hypothesis import settings

PROFILE = os.environ.get("PARLEY_FUZZ", "fast").strip().lower() or "fast"
if PROFILE not in ("fast", "long"):
    raise RuntimeError(f"PARLEY_FUZZ must be fast or long, not {PROFILE!r}")
LONG = PROFILE == "long"
PROFILES = {"fast": "parley-fuzz-fast", "long": "parley-fuzz-long"}  # registered by tests/fuzz/conftest.py


def fuzz_settings(**overrides) -> settings:
    """The running profile's settings, with a test's own overrides (e.g. a multiple of max_examples)."""
    return settings(settings.get_profile(PROFILES[PROFILE]), **overrides)


def examples(fast: int, long: int) -> int:
    """A test's max_examples under the running profile."""
    return long if LONG else fast


class Counts:
    """What was sent and what came back, across the fuzz modules (printed at the end; written by the long run)."""

    def __init__(self):
        self.lock = threading.Lock()
        self.started: float | None = None
        self.frames = collections.Counter()     # fuzz frames sent, per socket kind
        self.pings = 0                           # the pings sent after each batch (not fuzz frames)
        self.replies = collections.Counter()     # "ack" / "pong" / "error:<code>" / "silent"
        self.requests = collections.Counter()    # REST requests, per auth kind
        self.statuses = collections.Counter()    # REST status codes
        self.reconnects = 0
        self.outcomes: dict[str, str] = {}
        self.load_at_start = None

    def start(self) -> None:
        with self.lock:
            if self.started is None:
                self.started = time.monotonic()
                self.load_at_start = os.getloadavg()

    def frame(self, kind: str) -> None:
        self.start()
        with self.lock:
            self.frames[kind] += 1

    def ping(self) -> None:
        with self.lock:
            self.pings += 1

    def reply(self, what: str) -> None:
        with self.lock:
            self.replies[what] += 1

    def request(self, auth: str, status: int) -> None:
        self.start()
        with self.lock:
            self.requests[auth] += 1
            self.statuses[str(status)] += 1

    def reconnect(self) -> None:
        with self.lock:
            self.reconnects += 1

    def outcome(self, nodeid: str, outcome: str) -> None:
        with self.lock:
            self.outcomes[nodeid] = outcome

    def failures(self) -> int:
        return sum(1 for outcome in self.outcomes.values() if outcome != "passed")

    def line(self) -> str:
        elapsed = time.monotonic() - (self.started or time.monotonic())
        return (f"{sum(self.frames.values())} websocket frames ({dict(self.frames)}) + {self.pings} pings, "
                f"replies {dict(self.replies)}, "
                f"{sum(self.requests.values())} REST requests ({dict(self.requests)}; statuses {dict(self.statuses)}), "
                f"{self.reconnects} reconnects, {self.failures()} failing tests, {elapsed:.1f} s")

    def summary(self) -> dict:
        return {"frames": sum(self.frames.values()), "frames_by_socket": dict(self.frames), "pings": self.pings,
                "replies": dict(self.replies), "requests": sum(self.requests.values()),
                "requests_by_auth": dict(self.requests), "statuses": dict(self.statuses),
                "reconnects": self.reconnects, "failures": self.failures(), "tests": self.outcomes,
                "duration_seconds": round(time.monotonic() - (self.started or time.monotonic()), 1),
                "load_average_at_start": self.load_at_start, "load_average_at_end": os.getloadavg()}


COUNTS = Counts()


class StackLog:
    """The local stack's log, so a failure can show what the server wrote while the failing input was
    handled (its traceback: the error body never carries one)."""

    def __init__(self, path: Path):
        self.path = path

    def mark(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    @contextlib.contextmanager
    def explaining(self, mark: int):
        try:
            yield
        except AssertionError as exc:
            time.sleep(0.2)  # the server writes its log after answering
            with open(self.path, "rb") as log:
                log.seek(mark)
                written = log.read()[-6_000:].decode("utf-8", "replace")
            raise AssertionError(f"{exc}\n--- what the stack logged meanwhile ---\n{written or '(nothing)'}") from None
