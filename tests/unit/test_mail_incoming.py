"""What a reply by email says (chalicelib/mail/incoming.py): strip_quoted keeps the new part, html_to_text
reads an HTML-only reply, and parse_inbound puts them together on the sample emails of tests/events."""
from pathlib import Path

import pytest

from chalicelib.config import settings
from chalicelib.errors import NotFoundError, UnauthorizedError
from chalicelib.identity import tokens
from chalicelib.mail import incoming, render
from chalicelib.mail.incoming import IgnoredEmail, html_to_text, strip_quoted

EVENTS = Path(__file__).resolve().parents[1] / "events"
DOMAIN = "reply.parley.test"


# --- strip_quoted ---------------------------------------------------------------------------

@pytest.mark.parametrize("text, expected", [
    # Gmail: the header on one line, or folded before "wrote:"
    ("Sounds good.\n\nOn Mon, 23 Nov 2026 at 10:00, Shop <reply+c_1.aa@x> wrote:\n> earlier", "Sounds good."),
    ("Sounds good.\n\nOn Mon, 23 Nov 2026 at 10:00, Shop <reply+c_1.aa@x>\nwrote:\n\n> earlier", "Sounds good."),
    ("Sounds good.\n\n  on Monday, Shop WROTE:  \nquoted without >", "Sounds good."),
    # French clients: "Le … a écrit :", on one line or folded
    ("Merci !\n\nLe lun. 23 nov. 2026 à 11:58, Shop <x@y> a écrit :\n> avant", "Merci !"),
    ("Merci !\n\nLe lun. 23 nov. 2026 à 11:58, Shop <x@y>\na écrit :\n> avant", "Merci !"),
    ("Merci !\nLe 23/11/2026 à 11:58, Shop a écrit:\navant", "Merci !"),
    # Outlook: the rule above the quoted headers, the "Original Message" line, a forwarded header block
    ("Yes.\n\n________________________________\nFrom: Shop\nSent: Monday", "Yes."),
    ("Yes.\n-----Original Message-----\nFrom: Shop", "Yes."),
    ("Oui.\n----- Message d'origine -----\nDe : Shop", "Oui."),
    ("Yes.\nFrom: Shop <x@y>\nSent: Monday", "Yes."),
    ("Oui.\nDe : Shop <x@y>\nEnvoyé : lundi", "Oui."),
])
def test_the_quote_header_ends_the_new_part(text, expected):
    assert strip_quoted(text) == expected


def test_quoted_lines_are_dropped_wherever_they_are_and_the_rest_is_kept():
    assert strip_quoted("First\n> quoted\n   > indented quote\nSecond\n>> deeper") == "First\nSecond"
    assert strip_quoted("> only quoted\n> nothing new") == ""


def test_the_signature_delimiter_ends_the_message_but_other_dashes_do_not():
    assert strip_quoted("Thanks\n-- \nDana\nSupport hero") == "Thanks"
    assert strip_quoted("Thanks\n--\nDana") == "Thanks"
    assert strip_quoted("Step 1\n---\nStep 2\n- a dash") == "Step 1\n---\nStep 2\n- a dash"


def test_sentences_that_only_look_like_headers_are_kept():
    text = "On Monday I ordered two.\nLe colis est arrivé.\nfrom: the shop, I think\nFrom:nobody"
    assert strip_quoted(text) == text  # no "wrote:" / "a écrit :", no header's "From: " with its space


def test_line_endings_no_break_spaces_and_trailing_blanks_are_normalised():
    assert strip_quoted("  Hello\u00a0there  \r\nSecond\rThird\r\n\r\n") == "Hello there\nSecond\nThird"


# --- html_to_text ---------------------------------------------------------------------------

def test_gmail_html_keeps_the_new_text_and_skips_its_quote():
    markup = ('<div dir="ltr">Thanks, that works.<div><br></div><div>Gift-wrap it?</div></div><br>'
              '<div class="gmail_quote"><div class="gmail_attr">On Mon, Shop wrote:<br></div>'
              '<blockquote class="gmail_quote">You have a new reply</blockquote></div><p>After the quote</p>')
    assert html_to_text(markup) == "Thanks, that works.\n\nGift-wrap it?\n\nAfter the quote"


def test_blockquote_and_any_class_naming_a_quote_are_skipped_with_what_they_contain():
    assert html_to_text("<p>New</p><blockquote><p>old <b>bold</b></p><img src=x><br/></blockquote><p>End</p>") \
        == "New\n\nEnd"
    assert html_to_text('<p>New</p><div class="yahoo_quoted"><div><span>old</span></div><hr></div>End') \
        == "New\n\nEnd"
    assert html_to_text('<p>New</p><div class="protonmail_quote">x</div><p>End</p>') == "New\n\nEnd"


def test_script_style_and_head_are_dropped():
    markup = ('<html><head><title>Re: hi</title><meta charset="utf-8"><style>p{margin:0}</style></head>'
              '<body><script>var s = "<p>not text</p>";</script><p>Visible</p><style>.x{}</style></body></html>')
    assert html_to_text(markup) == "Visible"


def test_entities_are_decoded_and_blocks_become_lines():
    assert html_to_text("<p>Fish &amp; chips &lt;3 &quot;now&quot; &#233;t&eacute; &#x20AC;5</p>") \
        == 'Fish & chips <3 "now" été €5'
    assert html_to_text("<h1>Title</h1><ul><li>one</li><li>two</li></ul><p>line<br>break</p>") \
        == "Title\n\none\n\ntwo\n\nline\nbreak"


def test_whitespace_runs_collapse_and_blank_lines_merge():
    assert html_to_text("<p>a \t\t  b</p>\n\n\n\n<div></div><div></div><p>c</p>") == "a b\n\nc"
    assert html_to_text("") == ""


def test_a_void_element_in_a_skipped_region_does_not_swallow_the_rest():
    assert html_to_text('<html><head><link rel=File-List href="cid:filelist.xml"></head>'
                        "<body><p>Hello</p></body></html>") == "Hello"


# --- parse_inbound, on the sample emails -------------------------------------------------------

@pytest.fixture
def domain(monkeypatch):
    monkeypatch.setattr(settings, "inbound_domain", DOMAIN)


def sample(name: str, to: str | None = None) -> bytes:
    raw = (EVENTS / name).read_text(encoding="utf-8")
    return raw.replace("{{REPLY_TO}}", to or render.reply_address("c_42")).encode()


@pytest.mark.parametrize("name, text, sender", [
    ("inbound_gmail_reply.eml", "Thanks, that works for me.\n\nCould you also gift-wrap it? Ça serait parfait.",
     "dana@example.com"),
    ("inbound_outlook_html.eml", "Yes please, go ahead & ship it.", "dana@example.com"),
    ("inbound_french_reply.eml", "Parfait, merci beaucoup !", "dana@example.fr"),
])
def test_each_sample_reply_gives_its_conversation_and_only_its_new_text(domain, name, text, sender):
    inbound = incoming.parse_inbound(sample(name))
    assert (inbound.conversation_id, inbound.text, inbound.sender) == ("c_42", text, sender)
    assert inbound.message_id.startswith("<") and inbound.message_id.endswith(">")


def test_the_reply_domain_and_the_signature_are_read_whatever_their_case(domain):
    signature = tokens.mail_signature("reply", "c_42")
    shouted = f"Reply+c_42.{signature.upper()}@{DOMAIN.upper()}"
    assert incoming.parse_inbound(sample("inbound_french_reply.eml", shouted)).conversation_id == "c_42"


def test_a_forged_signature_is_unauthorized_and_no_reply_address_is_not_found(domain):
    with pytest.raises(UnauthorizedError):
        incoming.parse_inbound(sample("inbound_gmail_reply.eml", f"reply+c_42.{'0' * 20}@{DOMAIN}"))
    with pytest.raises(UnauthorizedError):  # the signature of another conversation
        incoming.parse_inbound(sample("inbound_gmail_reply.eml", render.reply_address("c_1").replace("c_1", "c_42")))
    with pytest.raises(NotFoundError):
        incoming.parse_inbound(sample("inbound_gmail_reply.eml", "someone@example.com"))
    with pytest.raises(NotFoundError):  # a reply address of another domain is not ours to answer
        incoming.parse_inbound(sample("inbound_gmail_reply.eml", render.reply_address("c_42")
                                      .replace(DOMAIN, "elsewhere.example")))


@pytest.mark.parametrize("header", ["Auto-Submitted: auto-replied", "Precedence: bulk", "Precedence: auto_reply",
                                    "X-Autoreply: yes", "X-Autorespond: on"])
def test_automatic_replies_are_ignored(domain, header):
    raw = sample("inbound_gmail_reply.eml").replace(b"Subject:", header.encode() + b"\r\nSubject:", 1)
    with pytest.raises(IgnoredEmail, match="automatic"):
        incoming.parse_inbound(raw)


def test_auto_submitted_no_is_a_person_and_a_quote_only_reply_has_nothing_new(domain):
    raw = sample("inbound_french_reply.eml").replace(b"Subject:", b"Auto-Submitted: No\r\nSubject:", 1)
    assert incoming.parse_inbound(raw).text == "Parfait, merci beaucoup !"
    quote_only = (f"From: d@example.com\r\nTo: {render.reply_address('c_42')}\r\nSubject: Re\r\n\r\n"
                  "> all quoted\r\n").encode()
    with pytest.raises(IgnoredEmail, match="nothing new"):
        incoming.parse_inbound(quote_only)


def test_an_email_over_the_size_limit_is_ignored_unread(domain):
    with pytest.raises(IgnoredEmail, match="too large"):
        incoming.parse_inbound(b"x" * (incoming.INBOUND_MAX_BYTES + 1))


def test_a_missing_message_id_is_replaced_by_the_emails_hash(domain):
    raw = (f"From: d@example.com\r\nTo: {render.reply_address('c_42')}\r\nSubject: Re\r\n\r\nHello\r\n").encode()
    import hashlib
    inbound = incoming.parse_inbound(raw)
    assert (inbound.text, inbound.message_id) == ("Hello", hashlib.sha256(raw).hexdigest())


def test_a_long_reply_is_cut_to_a_messages_length(domain):
    raw = (f"From: d@example.com\r\nTo: {render.reply_address('c_42')}\r\nSubject: Re\r\n\r\n"
           + "word " * 2000).encode()
    assert len(incoming.parse_inbound(raw).text) == 4000
