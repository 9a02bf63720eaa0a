"""The composition root: what a container builds once, and the one place tests put their own.

`configure()` builds the websocket sender (with its clean-up: a gone connection is forgotten through
`chat.lifecycle.disconnect`) and installs the clock every module reads (`core.clock.now`). `app.py`
calls it once at import; a test calls it with its own sender and clock, and again with nothing to
restore the defaults. boto3 clients are built once per container by `aws.clients`.
"""
from collections.abc import Callable
from dataclasses import dataclass

import boto3

from chalicelib.aws.sender import Sender
from chalicelib.chat import lifecycle
from chalicelib.config import settings
from chalicelib.core import clock


@dataclass
class Parts:
    """What the entrypoints use; `app.py` reads `parts.sender` on every call, so a swap takes at once."""
    sender: Sender | None = None


parts = Parts()


def build_sender(client=None) -> Sender:
    sender = Sender(settings.ws_callback_url, client=client, workers=settings.fanout_workers)
    sender.on_gone = lifecycle.forget_gone  # forget the connection that is gone, never the sender's
    return sender


def configure(*, sender: Sender | None = None, now: Callable[[], float] | None = None) -> Parts:
    """Build the parts (a given sender or a new one; a given clock or the system's) and return them."""
    parts.sender = sender or build_sender()
    clock.use(now)
    return parts


def boto_session() -> boto3.session.Session:
    return boto3.session.Session(region_name=settings.region)
