"""The composition root: builds the adapters once per container, and lets tests swap them."""
import boto3

from chalicelib.aws.sender import Sender
from chalicelib.chat import lifecycle
from chalicelib.config import settings


def build_sender(client=None) -> Sender:
    sender = Sender(settings.ws_callback_url, client=client, workers=settings.fanout_workers)
    sender.on_gone = lifecycle.disconnect  # forget the connection that is gone, never the sender's
    return sender


def boto_session() -> boto3.session.Session:
    return boto3.session.Session(region_name=settings.region)
