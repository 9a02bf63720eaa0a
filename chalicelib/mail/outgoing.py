"""What chat and the flows may ask of email: cheap enqueues, from any handler; nothing here waits on SES.

The emails themselves are built and sent by the queue's consumer (mail/jobs.py).
"""
import json

from pynamodb.exceptions import DoesNotExist

from chalicelib.aws.clients import client
from chalicelib.config import settings
from chalicelib.core.caller import Caller
from chalicelib.core.clock import new_id, now
from chalicelib.store import limits
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Conversation, Site

# Reclaim a digest flag left by a job that was never enqueued (the queue refused it), after this long.
STALE_PENDING = 3600


def enabled() -> bool:
    return settings.email_enabled


def _enqueue(job: dict, delay: int = 0) -> bool:
    if not enabled():
        return False
    job = {"id": new_id("job"), **job}
    client("sqs").send_message(QueueUrl=settings.email_queue_url, MessageBody=json.dumps(job),
                                DelaySeconds=max(0, min(900, delay)))
    return True


def _id(conversation) -> str:
    return conversation if isinstance(conversation, str) else conversation.id


def note_unseen_reply(conversation: Conversation, seq: int) -> bool:
    """An agent's reply reached no visitor connection: email a digest after the quiet period, once
    for a burst (the first message of the burst claims the conversation's digest flag)."""
    if not enabled():
        return False
    t = now()
    fresh = Conversation.digest_pending_seq.does_not_exist() | (Conversation.digest_pending_at < t - STALE_PENDING)
    if not update_if(conversation, [Conversation.digest_pending_seq.set(seq), Conversation.digest_pending_at.set(t)],
                     fresh):
        return False  # a digest is already on its way; it will carry this message too
    try:
        return _enqueue({"kind": "digest", "conversation_id": conversation.id, "seq": seq},
                        delay=settings.digest_delay)
    except Exception:
        Conversation(conversation.id).update(
            actions=[Conversation.digest_pending_seq.remove(), Conversation.digest_pending_at.remove()],
            condition=Conversation.digest_pending_seq == seq)
        raise


def request_transcript(conversation: Conversation, email: str, caller: Caller) -> bool:
    """A visitor asked for the transcript by email: limited per conversation, per visitor and per
    recipient, so the widget cannot be used to mail strangers from the company's address."""
    try:
        site_settings = Site.get(conversation.site_key).settings
    except DoesNotExist:
        site_settings = None
    limits.hit(limits.for_site("transcript_conversation", site_settings), conversation.id)
    limits.hit(limits.for_site("transcript_visitor", site_settings), caller.id)
    limits.hit(limits.DEFAULTS["transcript_recipient"], email.lower())
    return _enqueue({"kind": "transcript", "conversation_id": _id(conversation), "email": email})


def request_csat_email(conversation) -> bool:
    """For the flows: ask the visitor to rate the conversation, with one-click rating links."""
    return _enqueue({"kind": "csat", "conversation_id": _id(conversation)})


def missed_chat_email(conversation) -> bool:
    """For the flows: nobody answered in time; tell the visitor the answer will come by email."""
    return _enqueue({"kind": "missed", "conversation_id": _id(conversation)})


