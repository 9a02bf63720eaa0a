"""AWS clients, one per service per container, created when first needed (most invocations need few).

The DynamoDB tables go through pynamodb (models.py) and websocket posts through sender.py; every
other AWS call the app makes takes its client from here.
"""
import threading

import boto3
from botocore.config import Config

from chalicelib.config import settings

# Lambda keeps containers warm: a flow start fails fast and the chat goes on, rather than hang.
_CONFIG = {"stepfunctions": Config(connect_timeout=2, read_timeout=5, retries={"max_attempts": 3})}

_clients: dict = {}
_lock = threading.Lock()


def client(service: str):
    with _lock:
        if service not in _clients:
            _clients[service] = boto3.client(service, region_name=settings.region, config=_CONFIG.get(service))
        return _clients[service]


def reset() -> None:
    """Forget every client (tests switch moto accounts)."""
    with _lock:
        _clients.clear()
