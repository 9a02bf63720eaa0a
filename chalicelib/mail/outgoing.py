"""Email: digests of unseen replies, transcripts, rating requests, and replies that come back by email.

Nothing here waits on SES inside a websocket handler: every email is a job on an SQS queue, sent by
the queue's consumer (app.py `send_email`, through chalicelib/consumers.py), retried by SQS and parked
in its dead-letter queue when it keeps failing. The consumer runs a job at most once per job id
(powertools idempotency), so a redelivered job sends nothing.

Every email has a plain-text part and an HTML alternative; every piece of people's text is escaped
in the HTML. Its Reply-To is reply+{conversation}.{signature}@{inbound domain}: the signature (an
HMAC) means nobody can post into a conversation they were not emailed about by forging an address.
"""
import hashlib
import html
import json
import logging
import re
import urllib.parse
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from email.utils import formatdate, make_msgid, parseaddr
from html.parser import HTMLParser

from pynamodb.exceptions import DoesNotExist, UpdateError

from chalicelib.core import origins
from chalicelib.identity import tokens
from chalicelib.store import limits
from chalicelib.aws.clients import client
from chalicelib.config import settings
from chalicelib.chat.conversations import HISTORY_MAX, history, record_csat
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from chalicelib.identity.sessions import Caller
from chalicelib.store.models import Conversation, Site, Visitor
from chalicelib.core.clock import new_id, now

log = logging.getLogger(__name__)

DIGEST_MESSAGES = 10
TRANSCRIPT_MAX = 1000
INBOUND_MAX_BYTES = 10 * 1024 * 1024
# Reclaim a digest flag left by a job that was never enqueued (the queue refused it), after this long.
STALE_PENDING = 3600

def enabled() -> bool:
    return settings.email_enabled


# --- strings --------------------------------------------------------------------------------

STRINGS = {
    "en": {
        "digest_subject": "New reply from {site}",
        "digest_intro": "You have a new reply in your conversation with {site}:",
        "transcript_subject": "Your conversation with {site}",
        "transcript_intro": "Here is the transcript of your conversation with {site}, as you asked.",
        "csat_subject": "How did {site} do?",
        "csat_intro": "How would you rate your conversation with {site}? One click is enough.",
        "missed_subject": "We'll answer you by email",
        "missed_intro": "Sorry we missed you! {site} has your message and will answer you by email.",
        "open_chat": "Open the conversation",
        "reply_hint": "Reply to this email to answer in the conversation.",
        "you": "You", "agent": "Agent", "bot": "Assistant", "system": "{site}",
        "stars": "{n} out of 5",
        "thanks_title": "Thanks for your feedback!",
        "thanks_body": "You rated this conversation {n} out of 5.",
        "rated_title": "Already rated",
        "rated_body": "This conversation has a rating already. Thank you!",
        "bad_link_title": "This link does not work",
        "bad_link_body": "The link is incomplete or has expired.",
    },
    "fr": {
        "digest_subject": "Nouvelle réponse de {site}",
        "digest_intro": "Vous avez une nouvelle réponse dans votre conversation avec {site} :",
        "transcript_subject": "Votre conversation avec {site}",
        "transcript_intro": "Voici la transcription de votre conversation avec {site}, comme demandé.",
        "csat_subject": "Votre avis sur {site}",
        "csat_intro": "Comment évaluez-vous votre conversation avec {site} ? Un clic suffit.",
        "missed_subject": "Nous vous répondrons par e-mail",
        "missed_intro": "Désolés de vous avoir manqué ! {site} a bien reçu votre message et vous répondra "
                        "par e-mail.",
        "open_chat": "Ouvrir la conversation",
        "reply_hint": "Répondez à cet e-mail pour répondre dans la conversation.",
        "you": "Vous", "agent": "Conseiller", "bot": "Assistant", "system": "{site}",
        "stars": "{n} sur 5",
        "thanks_title": "Merci pour votre avis !",
        "thanks_body": "Vous avez donné la note de {n} sur 5 à cette conversation.",
        "rated_title": "Déjà évaluée",
        "rated_body": "Cette conversation a déjà une note. Merci !",
        "bad_link_title": "Ce lien ne fonctionne pas",
        "bad_link_body": "Le lien est incomplet ou a expiré.",
    },
}


def language(locale: str | None) -> str:
    return "fr" if (locale or "").lower().startswith("fr") else "en"


def _t(lang: str, key: str, **values) -> str:
    return STRINGS[lang][key].format(**values)


# --- addresses and links --------------------------------------------------------------------

_REPLY = re.compile(r"reply\+([a-z0-9_-]{1,64})\.([0-9a-f]{20})@([a-z0-9.-]+)", re.IGNORECASE)


def reply_address(conversation_id: str) -> str:
    sig = tokens.mail_signature("reply", conversation_id)
    return f"reply+{conversation_id}.{sig}@{settings.inbound_domain}"


def csat_link(conversation_id: str, rating: int) -> str:
    sig = tokens.mail_signature("csat", conversation_id, str(rating), length=32)
    return (f"{settings.public_api_url.rstrip('/')}/v1/csat/{urllib.parse.quote(conversation_id)}/{rating}"
            f"?sig={sig}")


def owned_page(url: str | None, site: Site | None) -> str | None:
    """`url` when it is a page on a host the site owns (origins.owns_page): its allowed origins, or the
    product's own (the widget page, the public API URL). page_url comes from the visitor's browser, so a
    visitor who claims to be on https://evil.example must not put links to it into anyone's inbox."""
    return url if origins.owns_page(site, url, settings.widget_url, settings.public_api_url) else None


def resume_link(conversation: Conversation, visitor: Visitor, site: Site | None) -> str | None:
    """The page with the widget, with a resume token the widget reads (`parley_resume`) to reopen
    this conversation as this visitor, on any device, for as long as resume tokens are valid. Only on
    a page the site owns (owned_page); only in emails to the conversation's own address (whoever holds
    the link holds the visitor's identity and history)."""
    base = (settings.widget_url or owned_page(conversation.page_url, site)
            or owned_page(visitor.page_url, site))
    if not base:
        return None
    parts = urllib.parse.urlsplit(base)
    token, _ = tokens.issue_visitor_token(visitor.id, conversation.site_key, conversation.workspace_id)
    query = [(k, v) for k, v in urllib.parse.parse_qsl(parts.query, keep_blank_values=True)
             if not k.startswith("parley_")]
    query += [("parley_resume", token), ("parley_conversation", conversation.id)]
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, urllib.parse.urlencode(query), ""))


# --- enqueueing (cheap, from any handler) ---------------------------------------------------

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
    try:
        conversation.update(actions=[Conversation.digest_pending_seq.set(seq), Conversation.digest_pending_at.set(t)],
                            condition=fresh)
    except UpdateError as exc:
        if exc.cause_response_code == "ConditionalCheckFailedException":
            return False  # a digest is already on its way; it will carry this message too
        raise
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


# --- the consumer's job --------------------------------------------------------------------

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


def _context(conversation: Conversation) -> tuple[Visitor, Site | None, str, str]:
    visitor = _visitor(conversation)
    try:
        site = Site.get(conversation.site_key)
    except DoesNotExist:
        site = None
    return visitor, site, site.name if site else conversation.site_key, language(visitor.locale)


def _visitor(conversation: Conversation) -> Visitor:
    """The conversation's visitor; when their record expired first (retention), the copies on the
    conversation stand in for it."""
    try:
        return Visitor.get(conversation.visitor_id)
    except DoesNotExist:
        return Visitor(conversation.visitor_id, site_key=conversation.site_key, workspace_id=conversation.workspace_id,
                       name=conversation.visitor_name, email=conversation.visitor_email, page_url=conversation.page_url)


def _visitor_caller(conversation: Conversation) -> Caller:
    return Caller(kind="visitor", id=conversation.visitor_id, workspace_id=conversation.workspace_id,
                  name=conversation.visitor_name, site_key=conversation.site_key)


@dataclass
class Email:
    to: str
    to_name: str | None
    subject: str
    lang: str
    site_name: str
    conversation_id: str
    intro: str
    messages: list = field(default_factory=list)
    actions: list = field(default_factory=list)  # (label, url)
    newest_seq: int = 0


def _digest(conversation: Conversation, job: dict) -> Email | None:
    try:  # the next agent reply may start the next quiet period
        conversation.update(actions=[Conversation.digest_pending_seq.remove(), Conversation.digest_pending_at.remove()],
                            condition=Conversation.digest_pending_seq == job.get("seq"))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise
    visitor, site, site_name, lang = _context(conversation)
    address = visitor.email or conversation.visitor_email
    if not address:
        return None
    messages, _ = history(_visitor_caller(conversation), conversation, limit=DIGEST_MESSAGES)
    seen = max(int(conversation.visitor_read_seq or 0), int(conversation.digest_sent_seq or 0))
    unseen = [m for m in messages if m["author"]["kind"] != "visitor" and m["seq"] > seen]
    if not unseen:
        return None  # read in the widget meanwhile, or in an earlier digest
    link = resume_link(conversation, visitor, site)
    return Email(to=address, to_name=visitor.name, subject=_t(lang, "digest_subject", site=site_name), lang=lang,
                 site_name=site_name, conversation_id=conversation.id,
                 intro=_t(lang, "digest_intro", site=site_name), messages=messages,
                 actions=[(_t(lang, "open_chat"), link)] if link else [], newest_seq=unseen[-1]["seq"])


def _after_digest(conversation: Conversation, job: dict, email: Email) -> None:
    try:
        conversation.update(actions=[Conversation.digest_sent_seq.set(email.newest_seq)],
                            condition=Conversation.digest_sent_seq.does_not_exist()
                            | (Conversation.digest_sent_seq < email.newest_seq))
    except UpdateError as exc:
        if exc.cause_response_code != "ConditionalCheckFailedException":
            raise


def _transcript(conversation: Conversation, job: dict) -> Email | None:
    visitor, site, site_name, lang = _context(conversation)
    caller, messages, after = _visitor_caller(conversation), [], 0
    while len(messages) < TRANSCRIPT_MAX:
        page, has_more = history(caller, conversation, after_seq=after, limit=HISTORY_MAX)
        messages += page
        if not has_more or not page:
            break
        after = page[-1]["seq"]
    # Anyone may be named as the recipient: only the conversation's own address gets the way back in.
    own = (conversation.visitor_email or visitor.email or "").lower()
    link = resume_link(conversation, visitor, site) if own and job["email"].lower() == own else None
    return Email(to=job["email"], to_name=visitor.name, subject=_t(lang, "transcript_subject", site=site_name),
                 lang=lang, site_name=site_name, conversation_id=conversation.id,
                 intro=_t(lang, "transcript_intro", site=site_name), messages=messages,
                 actions=[(_t(lang, "open_chat"), link)] if link else [])


def _csat(conversation: Conversation, job: dict) -> Email | None:
    if conversation.csat or not settings.public_api_url:
        return None
    visitor, site, site_name, lang = _context(conversation)
    address = visitor.email or conversation.visitor_email
    if not address:
        return None
    actions = [("★" * n + "☆" * (5 - n) + " " + _t(lang, "stars", n=n), csat_link(conversation.id, n))
               for n in range(5, 0, -1)]
    return Email(to=address, to_name=visitor.name, subject=_t(lang, "csat_subject", site=site_name), lang=lang,
                 site_name=site_name, conversation_id=conversation.id,
                 intro=_t(lang, "csat_intro", site=site_name), actions=actions)


def _missed(conversation: Conversation, job: dict) -> Email | None:
    visitor, site, site_name, lang = _context(conversation)
    address = visitor.email or conversation.visitor_email
    if not address:
        return None
    messages, _ = history(_visitor_caller(conversation), conversation, limit=DIGEST_MESSAGES)
    link = resume_link(conversation, visitor, site)
    return Email(to=address, to_name=visitor.name, subject=_t(lang, "missed_subject"), lang=lang,
                 site_name=site_name, conversation_id=conversation.id,
                 intro=_t(lang, "missed_intro", site=site_name), messages=messages,
                 actions=[(_t(lang, "open_chat"), link)] if link else [])


JOBS = {"digest": _digest, "transcript": _transcript, "csat": _csat, "missed": _missed}
AFTER_SEND = {"digest": _after_digest}


# --- rendering and sending ------------------------------------------------------------------

def _one_line(value: str | None) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value or "").strip()


def _author(message: dict, lang: str, site_name: str) -> str:
    kind = message["author"]["kind"]
    if kind == "visitor":
        return _t(lang, "you")
    if kind == "agent":
        return message["author"].get("name") or _t(lang, "agent")
    return _t(lang, kind if kind in ("bot", "system") else "agent", site=site_name)


def _when(stamp: str) -> str:
    return f"{stamp[:10]} {stamp[11:16]} UTC" if stamp and len(stamp) >= 16 else ""


def build(email: Email) -> EmailMessage:
    """The MIME message: headers, a plain-text part, an HTML alternative with every text escaped."""
    lang, esc = email.lang, html.escape
    text = [email.intro, ""]
    for m in email.messages:
        text += [f"{_author(m, lang, email.site_name)} ({_when(m['created_at'])}):", m["text"], ""]
    for label, url in email.actions:
        text += [f"{label}: {url}"]
    text += ["", "--", _t(lang, "reply_hint")]

    rows = "".join(
        f'<tr><td style="padding:8px 0;border-bottom:1px solid #eee">'
        f'<div style="color:#555;font-size:13px">{esc(_author(m, lang, email.site_name))} · {esc(_when(m["created_at"]))}</div>'
        f'<div style="white-space:pre-wrap;font-size:15px">{esc(m["text"])}</div></td></tr>'
        for m in email.messages)
    buttons = "".join(
        f'<p><a href="{esc(url, quote=True)}" style="display:inline-block;padding:10px 16px;background:#1f6feb;'
        f'color:#fff;border-radius:6px;text-decoration:none">{esc(label)}</a></p>'
        for label, url in email.actions)
    body = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{esc(email.subject)}</title></head>'
            f'<body style="font-family:system-ui,sans-serif;color:#222;max-width:600px;margin:0 auto;padding:16px">'
            f'<p>{esc(email.intro)}</p><table role="presentation" style="width:100%;border-collapse:collapse">'
            f'{rows}</table>{buttons}<p style="color:#777;font-size:12px">{esc(_t(lang, "reply_hint"))}</p>'
            f'</body></html>')

    msg = EmailMessage(policy=policy.SMTP)
    from_name, from_addr = parseaddr(settings.email_from)
    msg["From"] = Address(_one_line(email.site_name or from_name), addr_spec=from_addr)
    msg["To"] = Address(_one_line(email.to_name), addr_spec=email.to)
    msg["Reply-To"] = Address(_one_line(email.site_name), addr_spec=reply_address(email.conversation_id))
    msg["Subject"] = _one_line(email.subject)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.inbound_domain)
    # Mail clients thread every email of a conversation together.
    msg["References"] = f"<{email.conversation_id}@{settings.inbound_domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # no vacation replies back to us, please
    msg["Content-Language"] = lang
    # Quoted-printable whatever the lines' lengths: a short email would otherwise go as raw 8-bit UTF-8,
    # which not every relay passes through intact.
    msg.set_content("\n".join(text), cte="quoted-printable")
    msg.add_alternative(body, subtype="html", cte="quoted-printable")
    return msg


def send(email: Email) -> str:
    message = build(email)
    # The stage's configuration set (infra/template.yaml) carries bounces and complaints to its metrics.
    options = {"ConfigurationSetName": settings.ses_configuration_set} if settings.ses_configuration_set else {}
    result = client("ses").send_raw_email(Source=parseaddr(settings.email_from)[1],
                                           RawMessage={"Data": message.as_bytes()}, **options)
    return result["MessageId"]


# --- inbound --------------------------------------------------------------------------------

@dataclass
class Inbound:
    conversation_id: str
    text: str
    message_id: str
    sender: str


class IgnoredEmail(Exception):
    """An inbound email with nothing to store (an auto-reply, or only quoted text)."""


_QUOTE_HEADERS = [
    re.compile(r"^\s*On\b.*\bwrote:\s*$", re.IGNORECASE),
    re.compile(r"^\s*Le\b.*\ba\s+écrit\s*:\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Original Message\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^\s*-{2,}\s*Message d'origine\s*-{2,}\s*$", re.IGNORECASE),
    re.compile(r"^_{20,}\s*$"),  # Outlook's rule above the quoted headers
    re.compile(r"^(From|De)\s*:\s.*$"),  # a forwarded header block
]


def strip_quoted(text: str) -> str:
    """The new part of a reply: before the quote header, without `>` lines or the signature."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").replace("\u00a0", " ").split("\n")
    kept = []
    for i, line in enumerate(lines):
        # Gmail folds a long "On …, Name <address>" line before "wrote:"
        joined = line + " " + lines[i + 1] if i + 1 < len(lines) else line
        if any(p.match(line) for p in _QUOTE_HEADERS) or (
                line.strip().startswith(("On ", "Le ")) and any(p.match(joined) for p in _QUOTE_HEADERS[:2])):
            break
        if line.rstrip() == "--":  # the signature delimiter ("-- ")
            break
        if line.lstrip().startswith(">"):
            continue
        kept.append(line.rstrip())
    return "\n".join(kept).strip()


class _TextOfHtml(HTMLParser):
    BLOCK = {"p", "div", "br", "tr", "li", "h1", "h2", "h3", "h4", "table", "blockquote"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        quoted = tag == "blockquote" or any(k == "class" and v and "quote" in v for k, v in attrs)
        if self.skip or quoted or tag in ("script", "style", "head"):
            self.skip += 1 if tag not in ("br", "img", "meta", "hr", "input") else 0
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if self.skip and tag not in ("br", "img", "meta", "hr", "input"):
            self.skip -= 1
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_data(self, data):
        if not self.skip:
            self.out.append(data)


def html_to_text(markup: str) -> str:
    parser = _TextOfHtml()
    parser.feed(markup)
    parser.close()
    text = re.sub(r"[ \t]+", " ", "".join(parser.out))
    return re.sub(r"\n\s*\n+", "\n\n", text).strip()


def _recipients(msg) -> list[str]:
    found = []
    for name in ("to", "cc", "delivered-to", "x-original-to", "received"):
        for value in msg.get_all(name) or []:
            found += [m.group(0) for m in _REPLY.finditer(str(value))]
    return found


def parse_inbound(raw: bytes) -> Inbound:
    """Which conversation an inbound email answers, and its new text. UnauthorizedError for an address
    whose signature does not match; IgnoredEmail for auto-replies and emails with nothing new."""
    if len(raw) > INBOUND_MAX_BYTES:
        raise IgnoredEmail("too large")
    msg = BytesParser(policy=policy.default).parsebytes(raw)
    if (str(msg.get("auto-submitted") or "no").strip().lower() != "no"
            or str(msg.get("precedence") or "").strip().lower() in ("bulk", "junk", "list", "auto_reply")
            or msg.get("x-autoreply") or msg.get("x-autorespond")):
        raise IgnoredEmail("an automatic reply")
    conversation_id = None
    for address in _recipients(msg):
        m = _REPLY.fullmatch(address)
        if m.group(3).lower() != settings.inbound_domain.lower():
            continue
        if not tokens.verify_mail_signature(m.group(2), "reply", m.group(1)):
            raise UnauthorizedError("the reply address's signature does not match")
        conversation_id = m.group(1)
        break
    if conversation_id is None:
        raise NotFoundError("no conversation reply address among the recipients")
    part = msg.get_body(preferencelist=("plain", "html"))
    if part is None:
        raise IgnoredEmail("no text")
    if part.get_content_charset() is None:  # undeclared 8-bit text: UTF-8 is the likeliest
        content = part.get_payload(decode=True).decode("utf-8", "replace")
    else:
        content = part.get_content()
    text = strip_quoted(html_to_text(content) if part.get_content_subtype() == "html" else content)
    if not text:
        raise IgnoredEmail("nothing new in the reply")
    message_id = _one_line(str(msg.get("message-id") or "")) or hashlib.sha256(raw).hexdigest()
    return Inbound(conversation_id, text[:4000], message_id, parseaddr(str(msg.get("from") or ""))[1])


def receive_inbound(raw: bytes, sender) -> dict:
    """Append an inbound email to its conversation as the visitor's message, once per Message-ID,
    and deliver it to whoever is subscribed."""
    from chalicelib.chat.messaging import send_message  # messaging tells this module of unseen replies
    try:
        inbound = parse_inbound(raw)
    except IgnoredEmail as exc:
        log.info("inbound email ignored", extra={"reason": str(exc)})
        return {"stored": False, "reason": str(exc)}
    try:
        conversation = Conversation.get(inbound.conversation_id, consistent_read=True)
    except DoesNotExist:
        raise NotFoundError("no such conversation") from None
    client_msg_id = "email-" + hashlib.sha256(inbound.message_id.encode()).hexdigest()[:32]
    message = send_message(_visitor_caller(conversation), conversation.id, inbound.text,
                           client_msg_id=client_msg_id, internal=False, sender=sender, ack=False)
    return {"stored": True, "conversation_id": conversation.id, "message": message}


def receive_from_s3(bucket: str, key: str, sender) -> dict:
    """The SES receipt rule stored an inbound email in S3: read it and append it."""
    raw = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    try:
        return receive_inbound(raw, sender)
    except (UnauthorizedError, ForbiddenError, NotFoundError, ConflictError, BadRequestError) as exc:
        # Retrying will not change the answer: log it and let the object be.
        log.warning("inbound email refused", extra={"key": key, "code": exc.code, "reason": exc.message})
        return {"stored": False, "reason": exc.message}


# --- one-click ratings ----------------------------------------------------------------------

def rate_from_link(conversation_id: str, rating: str, sig: str | None) -> tuple[int, str]:
    """GET /v1/csat/{id}/{rating}?sig=: record the rating once; a small page either way."""
    lang = "en"
    valid = rating in ("1", "2", "3", "4", "5") and tokens.verify_mail_signature(
        sig or "", "csat", conversation_id, rating, length=32)
    conversation = None
    if valid:
        try:
            conversation = Conversation.get(conversation_id, consistent_read=True)
            lang = language(_visitor(conversation).locale)
        except DoesNotExist:
            conversation = None
    if conversation is None:
        return 404, _page(lang, _t(lang, "bad_link_title"), _t(lang, "bad_link_body"))
    try:
        record_csat(conversation, int(rating))
    except ConflictError:
        return 409, _page(lang, _t(lang, "rated_title"), _t(lang, "rated_body"))
    return 200, _page(lang, _t(lang, "thanks_title"), _t(lang, "thanks_body", n=rating))


def _page(lang: str, title: str, body: str) -> str:
    esc = html.escape
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{esc(title)}</title>'
            f'<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;'
            f'color:#222;text-align:center}}</style></head><body><h1>{esc(title)}</h1><p>{esc(body)}</p>'
            f'</body></html>')


PAGE_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
