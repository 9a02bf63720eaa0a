"""The email queue's consumer: one job, one email (app.py `send_email`, through edges/consumers.py).

Every email is a job on an SQS queue, sent here, retried by SQS and parked in its dead-letter queue when
it keeps failing. The consumer runs a job at most once per job id (powertools idempotency), so a
redelivered job sends nothing.
"""
import logging
from email.utils import parseaddr

from pynamodb.exceptions import DoesNotExist

from chalicelib.aws.clients import client
from chalicelib.chat.conversations import HISTORY_MAX, history
from chalicelib.config import settings
from chalicelib.mail.render import Email, build, context, csat_link, phrase, resume_link, visitor_caller
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Conversation

log = logging.getLogger(__name__)

DIGEST_MESSAGES = 10
TRANSCRIPT_MAX = 1000


def run_job(job: dict) -> str:
    """Send one job's email (the consumer makes it once per job id). Returns what happened ("sent", or why not)."""
    handler = JOBS.get(job.get("kind"))
    if handler is None:
        log.error("unknown email job kind", extra={"kind": job.get("kind")})
        return "unknown"
    try:
        conversation = Conversation.get(str(job.get("conversation_id")), consistent_read=True)
    except DoesNotExist:
        return "no conversation"
    email = handler(conversation, job)
    if email is None:
        return "skipped"
    send(email)
    after = AFTER_SEND.get(job["kind"])
    if after:
        try:
            after(conversation, job, email)
        except Exception:  # the email went: failing the job now would send it again
            log.exception("bookkeeping after an email failed", extra={"job_id": job.get("id"), "kind": job["kind"]})
    return "sent"


def _digest(conversation: Conversation, job: dict) -> Email | None:
    # The next agent reply may start the next quiet period.
    update_if(conversation, [Conversation.digest_pending_seq.remove(), Conversation.digest_pending_at.remove()],
              Conversation.digest_pending_seq == job.get("seq"))
    visitor, site, site_name, lang = context(conversation)
    address = visitor.email or conversation.visitor_email
    if not address:
        return None
    messages, _ = history(visitor_caller(conversation), conversation, limit=DIGEST_MESSAGES)
    seen = max(int(conversation.visitor_read_seq or 0), int(conversation.digest_sent_seq or 0))
    unseen = [m for m in messages if m["author"]["kind"] != "visitor" and m["seq"] > seen]
    if not unseen:
        return None  # read in the widget meanwhile, or in an earlier digest
    link = resume_link(conversation, visitor, site)
    return Email(to=address, to_name=visitor.name, subject=phrase(lang, "digest_subject", site=site_name), lang=lang,
                 site_name=site_name, conversation_id=conversation.id,
                 intro=phrase(lang, "digest_intro", site=site_name), messages=messages,
                 actions=[(phrase(lang, "open_chat"), link)] if link else [], newest_seq=unseen[-1]["seq"])


def _after_digest(conversation: Conversation, job: dict, email: Email) -> None:
    update_if(conversation, [Conversation.digest_sent_seq.set(email.newest_seq)],
              Conversation.digest_sent_seq.does_not_exist() | (Conversation.digest_sent_seq < email.newest_seq))


def _transcript(conversation: Conversation, job: dict) -> Email | None:
    visitor, site, site_name, lang = context(conversation)
    caller, messages, after = visitor_caller(conversation), [], 0
    while len(messages) < TRANSCRIPT_MAX:
        page, has_more = history(caller, conversation, after_seq=after, limit=HISTORY_MAX)
        messages += page
        if not has_more or not page:
            break
        after = page[-1]["seq"]
    # Anyone may be named as the recipient: only the conversation's own address gets the way back in.
    own = (conversation.visitor_email or visitor.email or "").lower()
    link = resume_link(conversation, visitor, site) if own and job["email"].lower() == own else None
    return Email(to=job["email"], to_name=visitor.name, subject=phrase(lang, "transcript_subject", site=site_name),
                 lang=lang, site_name=site_name, conversation_id=conversation.id,
                 intro=phrase(lang, "transcript_intro", site=site_name), messages=messages,
                 actions=[(phrase(lang, "open_chat"), link)] if link else [])


def _csat(conversation: Conversation, job: dict) -> Email | None:
    if conversation.csat or not settings.public_api_url:
        return None
    visitor, site, site_name, lang = context(conversation)
    address = visitor.email or conversation.visitor_email
    if not address:
        return None
    actions = [("★" * n + "☆" * (5 - n) + " " + phrase(lang, "stars", n=n), csat_link(conversation.id, n))
               for n in range(5, 0, -1)]
    return Email(to=address, to_name=visitor.name, subject=phrase(lang, "csat_subject", site=site_name), lang=lang,
                 site_name=site_name, conversation_id=conversation.id,
                 intro=phrase(lang, "csat_intro", site=site_name), actions=actions)


def _missed(conversation: Conversation, job: dict) -> Email | None:
    visitor, site, site_name, lang = context(conversation)
    address = visitor.email or conversation.visitor_email
    if not address:
        return None
    messages, _ = history(visitor_caller(conversation), conversation, limit=DIGEST_MESSAGES)
    link = resume_link(conversation, visitor, site)
    return Email(to=address, to_name=visitor.name, subject=phrase(lang, "missed_subject"), lang=lang,
                 site_name=site_name, conversation_id=conversation.id,
                 intro=phrase(lang, "missed_intro", site=site_name), messages=messages,
                 actions=[(phrase(lang, "open_chat"), link)] if link else [])


JOBS = {"digest": _digest, "transcript": _transcript, "csat": _csat, "missed": _missed}
AFTER_SEND = {"digest": _after_digest}



def send(email: Email) -> str:
    message = build(email)
    # The stage's configuration set (infra/template.yaml) carries bounces and complaints to its metrics.
    options = {"ConfigurationSetName": settings.ses_configuration_set} if settings.ses_configuration_set else {}
    result = client("ses").send_raw_email(Source=parseaddr(settings.email_from)[1],
                                           RawMessage={"Data": message.as_bytes()}, **options)
    return result["MessageId"]


