"""Email's words and shape: the strings in English and French, the addresses and links an email carries,
and the MIME message with a plain-text part and an HTML alternative (every piece of people's text escaped).

Its Reply-To is reply+{conversation}.{signature}@{inbound domain}: the signature (an HMAC) means nobody
can post into a conversation they were not emailed about by forging an address.
"""
import html
import re
import urllib.parse
from dataclasses import dataclass, field
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

from pynamodb.exceptions import DoesNotExist

from chalicelib.config import settings
from chalicelib.core import origins
from chalicelib.core.caller import Caller
from chalicelib.core.locales import language
from chalicelib.identity import tokens
from chalicelib.store.models import Conversation, Site, Visitor

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


def phrase(lang: str, key: str, **values) -> str:
    return STRINGS[lang][key].format(**values)



# --- addresses and links --------------------------------------------------------------------

REPLY_ADDRESS = re.compile(r"reply\+([a-z0-9_-]{1,64})\.([0-9a-f]{20})@([a-z0-9.-]+)", re.IGNORECASE)


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


# --- who and where -------------------------------------------------------------------------

def context(conversation: Conversation) -> tuple[Visitor, Site | None, str, str]:
    visitor = visitor_of(conversation)
    try:
        site = Site.get(conversation.site_key)
    except DoesNotExist:
        site = None
    return visitor, site, site.name if site else conversation.site_key, language(visitor.locale)


def visitor_caller(conversation: Conversation) -> Caller:
    """The conversation's visitor, as the caller an email acts for (a digest reads, a reply writes)."""
    return Caller.for_visitor(conversation.visitor_id, conversation.workspace_id, name=conversation.visitor_name,
                              site_key=conversation.site_key)


def visitor_of(conversation: Conversation) -> Visitor:
    """The conversation's visitor; when their record expired first (retention), the copies on the
    conversation stand in for it."""
    try:
        return Visitor.get(conversation.visitor_id)
    except DoesNotExist:
        return Visitor(conversation.visitor_id, site_key=conversation.site_key, workspace_id=conversation.workspace_id,
                       name=conversation.visitor_name, email=conversation.visitor_email, page_url=conversation.page_url)


# --- the message --------------------------------------------------------------------------

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


def one_line(value: str | None) -> str:
    return re.sub(r"[\x00-\x1f\x7f]+", " ", value or "").strip()


def _author(message: dict, lang: str, site_name: str) -> str:
    kind = message["author"]["kind"]
    if kind == "visitor":
        return phrase(lang, "you")
    if kind == "agent":
        return message["author"].get("name") or phrase(lang, "agent")
    return phrase(lang, kind if kind in ("bot", "system") else "agent", site=site_name)


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
    text += ["", "--", phrase(lang, "reply_hint")]

    rows = "".join(
        f'<tr><td style="padding:8px 0;border-bottom:1px solid #eee">'
        f'<div style="color:#555;font-size:13px">{esc(_author(m, lang, email.site_name))} · '
        f'{esc(_when(m["created_at"]))}</div>'
        f'<div style="white-space:pre-wrap;font-size:15px">{esc(m["text"])}</div></td></tr>'
        for m in email.messages)
    buttons = "".join(
        f'<p><a href="{esc(url, quote=True)}" style="display:inline-block;padding:10px 16px;background:#1f6feb;'
        f'color:#fff;border-radius:6px;text-decoration:none">{esc(label)}</a></p>'
        for label, url in email.actions)
    body = (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{esc(email.subject)}</title></head>'
            f'<body style="font-family:system-ui,sans-serif;color:#222;max-width:600px;margin:0 auto;padding:16px">'
            f'<p>{esc(email.intro)}</p><table role="presentation" style="width:100%;border-collapse:collapse">'
            f'{rows}</table>{buttons}<p style="color:#777;font-size:12px">{esc(phrase(lang, "reply_hint"))}</p>'
            f'</body></html>')

    msg = EmailMessage(policy=policy.SMTP)
    from_name, from_addr = parseaddr(settings.email_from)
    msg["From"] = Address(one_line(email.site_name or from_name), addr_spec=from_addr)
    msg["To"] = Address(one_line(email.to_name), addr_spec=email.to)
    msg["Reply-To"] = Address(one_line(email.site_name), addr_spec=reply_address(email.conversation_id))
    msg["Subject"] = one_line(email.subject)
    msg["Date"] = formatdate(usegmt=True)
    msg["Message-ID"] = make_msgid(domain=settings.inbound_domain)
    # Mail clients thread every email of a conversation together.
    msg["References"] = f"<{email.conversation_id}@{settings.inbound_domain}>"
    msg["Auto-Submitted"] = "auto-generated"  # no vacation replies back to us, please
    # Quoted-printable whatever the lines' lengths: a short email would otherwise go as raw 8-bit UTF-8,
    # which not every relay passes through intact.
    msg.set_content("\n".join(text), cte="quoted-printable")
    msg.add_alternative(body, subtype="html", cte="quoted-printable")
    msg["Content-Language"] = lang  # after the parts: set_content clears every Content-* header before it
    return msg


def page(lang: str, title: str, body: str) -> str:
    esc = html.escape
    return (f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8">'
            f'<meta name="viewport" content="width=device-width,initial-scale=1"><title>{esc(title)}</title>'
            f'<style>body{{font-family:system-ui,sans-serif;max-width:32rem;margin:4rem auto;padding:0 1rem;'
            f'color:#222;text-align:center}}</style></head><body><h1>{esc(title)}</h1><p>{esc(body)}</p>'
            f'</body></html>')


PAGE_HEADERS = {"Content-Type": "text/html; charset=utf-8", "Cache-Control": "no-store",
                "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'",
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}
