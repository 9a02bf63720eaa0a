"""Email's words and shape (chalicelib/mail/render.py): the MIME message build() makes, the language of a
locale, and the English and French strings."""
import re
import string

import pytest

from chalicelib.config import settings
from chalicelib.identity import tokens
from chalicelib.mail import render
from chalicelib.mail.render import REPLY_ADDRESS, STRINGS, Email, build, language, phrase

DOMAIN = "reply.parley.test"
HOSTILE = '<script>alert("x")</script> & <img src=x onerror=1>'


@pytest.fixture(autouse=True)
def mail_settings(monkeypatch):
    monkeypatch.setattr(settings, "inbound_domain", DOMAIN)
    monkeypatch.setattr(settings, "email_from", "Parley <support@parley.test>")


def email(**fields) -> Email:
    values = {"to": "dana@example.com", "to_name": "Dana", "subject": "New reply from Shop", "lang": "en",
              "site_name": "Shop", "conversation_id": "c_42", "intro": "You have a new reply:",
              "messages": [{"author": {"kind": "agent", "id": "a_1", "name": "Alex"}, "text": "It ships tomorrow.",
                            "created_at": "2026-11-23T09:58:12.345Z"}],
              "actions": [("Open the conversation", "https://shop.example/help?parley_conversation=c_42&x=1")]}
    return Email(**{**values, **fields})


def parts(msg) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()


def test_a_plain_text_part_and_an_html_alternative_both_quoted_printable():
    msg = build(email())
    assert msg.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in msg.iter_parts()] == ["text/plain", "text/html"]
    assert all(p["Content-Transfer-Encoding"] == "quoted-printable" for p in msg.iter_parts())
    text, markup = parts(msg)
    assert "Alex (2026-11-23 09:58 UTC):\nIt ships tomorrow." in text
    assert "Open the conversation: https://shop.example/help?parley_conversation=c_42&x=1" in text
    assert text.rstrip().endswith("--\nReply to this email to answer in the conversation.")
    assert markup.startswith('<!doctype html><html lang="en">') and "It ships tomorrow." in markup
    assert 'href="https://shop.example/help?parley_conversation=c_42&amp;x=1"' in markup


def test_peoples_text_is_escaped_in_the_html_and_kept_as_written_in_the_text():
    msg = build(email(intro=HOSTILE, site_name="Shop <b>", subject=HOSTILE,
                      messages=[{"author": {"kind": "agent", "name": HOSTILE}, "text": HOSTILE,
                                 "created_at": "2026-11-23T09:58:12.345Z"}],
                      actions=[(HOSTILE, 'https://shop.example/"><script>x</script>')]))
    text, markup = parts(msg)
    assert "<script>" not in markup and "<img" not in markup and "<b>" not in markup
    assert markup.count("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &lt;img src=x onerror=1&gt;") >= 4
    assert 'href="https://shop.example/&quot;&gt;&lt;script&gt;x&lt;/script&gt;"' in markup
    assert HOSTILE in text  # plain text is not markup: nothing to escape


def test_the_reply_to_is_the_conversations_signed_reply_address():
    msg = build(email(conversation_id="c_42"))
    reply_to = msg["Reply-To"].addresses[0]
    assert reply_to.display_name == "Shop"
    match = REPLY_ADDRESS.fullmatch(reply_to.addr_spec)
    assert match and match.group(1) == "c_42" and match.group(3) == DOMAIN
    assert tokens.verify_mail_signature(match.group(2), "reply", "c_42")
    assert not tokens.verify_mail_signature(match.group(2), "reply", "c_43")
    assert reply_to.addr_spec == render.reply_address("c_42")


def test_the_headers_thread_the_conversation_and_refuse_vacation_replies():
    msg = build(email())
    assert msg["From"].addresses[0].display_name == "Shop"
    assert msg["From"].addresses[0].addr_spec == "support@parley.test"
    assert str(msg["To"]) == "Dana <dana@example.com>"
    assert msg["References"] == f"<c_42@{DOMAIN}>"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Message-ID"].endswith(f"@{DOMAIN}>")
    assert msg["Date"]


def test_a_line_break_in_a_name_or_subject_cannot_add_a_header():
    msg = build(email(subject="Hi\r\nBcc: evil@example.com", to_name="Dana\nBcc: evil@example.com",
                      site_name="Shop\r\nX-Evil: 1"))
    headers = msg.as_string().split("\r\n\r\n", 1)[0]
    assert not re.search(r"^(Bcc|X-Evil):", headers, re.MULTILINE | re.IGNORECASE)
    assert "Bcc: evil@example.com" in headers  # still there, as part of the To name's one line
    assert msg["Subject"] == "Hi Bcc: evil@example.com"


def test_a_french_email_says_everything_in_french():
    msg = build(email(lang="fr", messages=[{"author": {"kind": "visitor"}, "text": "Merci",
                                             "created_at": "2026-11-23T09:58:12.345Z"},
                                            {"author": {"kind": "agent"}, "text": "De rien",
                                             "created_at": "2026-11-23T09:59:00.000Z"},
                                            {"author": {"kind": "bot"}, "text": "Bonjour",
                                             "created_at": ""}]))
    text, markup = parts(msg)
    assert "Vous (2026-11-23 09:58 UTC):" in text and "Conseiller (2026-11-23 09:59 UTC):" in text
    assert "Assistant ():" in text  # a message without a time says none
    assert phrase("fr", "reply_hint") in text and html_lang(markup) == "fr"


def html_lang(markup: str) -> str:
    return re.search(r'<html lang="(\w+)">', markup).group(1)


def test_the_email_says_its_language_in_a_header():
    assert build(email(lang="fr"))["Content-Language"] == "fr"


@pytest.mark.parametrize("locale, lang", [
    ("fr", "fr"), ("fr-FR", "fr"), ("FR-ca", "fr"), ("fr_BE", "fr"),
    ("en", "en"), ("en-GB", "en"), ("de-DE", "en"), ("", "en"), (None, "en"), ("ffr", "en"),
])
def test_french_for_any_french_locale_english_for_everything_else(locale, lang):
    assert language(locale) == lang


def fields(template: str) -> set[str]:
    return {name for _, name, _, _ in string.Formatter().parse(template) if name}


def test_every_string_exists_in_english_and_french_with_the_same_placeholders():
    assert set(STRINGS) == {"en", "fr"}
    assert set(STRINGS["en"]) == set(STRINGS["fr"])
    for key in STRINGS["en"]:
        assert fields(STRINGS["en"][key]) == fields(STRINGS["fr"][key]), key
        assert STRINGS["en"][key].strip() and STRINGS["fr"][key].strip(), key


def test_every_phrase_formats_in_both_languages_with_the_values_the_callers_give():
    for lang in ("en", "fr"):
        for key in STRINGS[lang]:
            assert "{" not in phrase(lang, key, site="Shop", n=4), (lang, key)


def test_phrase_fills_in_its_values():
    assert phrase("en", "digest_subject", site="Shop") == "New reply from Shop"
    assert phrase("fr", "stars", n=3) == "3 sur 5"
    assert phrase("fr", "thanks_body", n=5) == "Vous avez donné la note de 5 sur 5 à cette conversation."
    with pytest.raises(KeyError):
        phrase("en", "digest_subject")  # a missing value is an error, not a "{site}" in someone's inbox


def test_one_line_drops_control_characters():
    assert render.one_line(" a\r\nb\tc\x00d\x7f ") == "a b c d"
    assert render.one_line(None) == ""
