"""Email that comes back: a visitor's reply by email becomes their message in the conversation, and a
one-click rating link records the rating."""
import hashlib
import logging
import re
from dataclasses import dataclass
from email import policy
from email.parser import BytesParser
from email.utils import parseaddr
from html.parser import HTMLParser

from pynamodb.exceptions import DoesNotExist

from chalicelib.aws.clients import client
from chalicelib.chat.assignment import record_csat
from chalicelib.chat.messaging import send_message
from chalicelib.config import settings
from chalicelib.core.locales import language
from chalicelib.errors import BadRequestError, ConflictError, ForbiddenError, NotFoundError, UnauthorizedError
from chalicelib.identity import tokens
from chalicelib.mail.render import REPLY_ADDRESS, one_line, page, phrase, visitor_caller, visitor_of
from chalicelib.store.models import Conversation

log = logging.getLogger(__name__)

INBOUND_MAX_BYTES = 10 * 1024 * 1024


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
    # Elements with no end tag: inside a skipped part (a quote, the head) they must not open a level.
    VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param", "source",
            "track", "wbr"}

    def __init__(self):
        super().__init__(convert_charrefs=True)
        self.out, self.skip = [], 0

    def handle_starttag(self, tag, attrs):
        quoted = tag == "blockquote" or any(k == "class" and v and "quote" in v for k, v in attrs)
        if self.skip or quoted or tag in ("script", "style", "head"):
            self.skip += 0 if tag in self.VOID else 1
        if tag in self.BLOCK:
            self.out.append("\n")

    def handle_endtag(self, tag):
        if self.skip and tag not in self.VOID:
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
            found += [m.group(0) for m in REPLY_ADDRESS.finditer(str(value))]
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
        m = REPLY_ADDRESS.fullmatch(address)
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
    message_id = one_line(str(msg.get("message-id") or "")) or hashlib.sha256(raw).hexdigest()
    return Inbound(conversation_id, text[:4000], message_id, parseaddr(str(msg.get("from") or ""))[1])


def receive_inbound(raw: bytes, sender) -> dict:
    """Append an inbound email to its conversation as the visitor's message, once per Message-ID,
    and deliver it to whoever is subscribed."""
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
    message = send_message(visitor_caller(conversation), conversation.id, inbound.text,
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

def rate_from_link(conversation_id: str, rating: str, sig: str | None, sender=None) -> tuple[int, str]:
    """GET /v1/csat/{id}/{rating}?sig=: record the rating once; a small page either way."""
    lang = "en"
    valid = rating in ("1", "2", "3", "4", "5") and tokens.verify_mail_signature(
        sig or "", "csat", conversation_id, rating, length=32)
    conversation = None
    if valid:
        try:
            conversation = Conversation.get(conversation_id, consistent_read=True)
            lang = language(visitor_of(conversation).locale)
        except DoesNotExist:
            conversation = None
    if conversation is None:
        return 404, page(lang, phrase(lang, "bad_link_title"), phrase(lang, "bad_link_body"))
    try:
        record_csat(conversation, int(rating), sender=sender)
    except ConflictError:
        return 409, page(lang, phrase(lang, "rated_title"), phrase(lang, "rated_body"))
    return 200, page(lang, phrase(lang, "thanks_title"), phrase(lang, "thanks_body", n=rating))


