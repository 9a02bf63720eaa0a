"""Emails the flows ask for, handed to the email queue (SQS → SES sender); nothing waits on SES here."""
import json
import logging
import threading

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from .config import settings
from .models import Conversation

log = logging.getLogger(__name__)

_sqs = None
_lock = threading.Lock()


def sqs():
    """One SQS client per container, created on first use."""
    global _sqs
    with _lock:
        if _sqs is None:
            _sqs = boto3.client("sqs", region_name=settings.region)
        return _sqs


def reset_client() -> None:
    global _sqs
    with _lock:
        _sqs = None


def request_csat_email(conversation: Conversation) -> bool:
    """Ask a visitor who left for a rating by email (the sender renders the one-click rating links).

    False when there is nowhere to send it: no email queue configured, or no address for the visitor.
    """
    if not settings.email_queue_url or not conversation.visitor_email:
        return False
    body = {"kind": "csat_request", "conversation_id": conversation.id, "site_key": conversation.site_key,
            "visitor_id": conversation.visitor_id, "to": conversation.visitor_email,
            "name": conversation.visitor_name}
    try:
        # Deduplicated by the consumer on this id: a retried flow step asks once.
        sqs().send_message(QueueUrl=settings.email_queue_url, MessageBody=json.dumps(body),
                           MessageAttributes={"idempotency_key": {
                               "DataType": "String", "StringValue": f"csat#{conversation.id}#{conversation.solved_at}"}})
    except (BotoCoreError, ClientError):
        log.exception("queueing the csat email failed", extra={"conversation_id": conversation.id})
        raise
    return True
