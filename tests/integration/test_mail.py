"""Email on moto (SQS, SES, S3): digests, transcripts, rating links, replies by email, and the headers,
parts and escaping every email must have. The queue is drained through the app's real consumer."""
import email
import json
import urllib.parse
from pathlib import Path

import boto3
import pytest
from chalice.test import Client

import app as app_module
from chalicelib import bootstrap
from chalicelib.aws import clients
from chalicelib.chat import intake, lifecycle, messaging, subscriptions
from chalicelib.config import settings
from chalicelib.edges import ws
from chalicelib.errors import NotFoundError, UnauthorizedError
from chalicelib.identity import sessions, tokens
from chalicelib.mail import incoming, outgoing, render
from chalicelib.store.models import Conversation, Message, Site
from tests.integration.mail_env import DOMAIN, parts, sent

EVENTS = Path(__file__).resolve().parents[1] / "events"


def chat(world, email_address="dana@example.com", locale="en-GB", page_url="https://shop.example/help?x=1"):
    site = Site.get("site-a")  # the shop's pages are the site's own: links in emails may point at them
    site.settings.allowed_origins = ["https://shop.example"]
    site.save()
    session = world.visitor_session(email=email_address, locale=locale, name="Dana")
    visitor = world.visitor_connection(session)
    conversation = intake.start(visitor, {"page_url": page_url}, world.sender)
    messaging.send_message(visitor, conversation.id, "Where is my order?", client_msg_id="v1", internal=False,
                           sender=world.sender)
    agent = world.agent_connection(world.agent(name="Alex"))
    subscriptions.subscribe(agent.connection_id, "agent", conversation.id)
    return visitor, agent, conversation


def leave(world, visitor):
    lifecycle.disconnect(visitor.connection_id)
    world.api.drop(visitor.connection_id)


def reply(world, agent, conversation_id, text, internal=False):
    return messaging.send_message(agent, conversation_id, text, client_msg_id=None, internal=internal,
                                  sender=world.sender)


# --- digests --------------------------------------------------------------------------------

def test_a_burst_of_replies_to_an_absent_visitor_is_one_digest_with_the_last_messages(world, outbox):
    visitor, agent, conversation = chat(world)
    leave(world, visitor)
    for text in ("Let me check.", "It ships tomorrow.", "Anything else?"):
        reply(world, agent, conversation.id, text)
    reply(world, agent, conversation.id, "note: VIP customer", internal=True)

    queued = boto3.client("sqs", region_name="us-east-1").get_queue_attributes(
        QueueUrl=outbox.queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    assert queued["Attributes"]["ApproximateNumberOfMessages"] == "1"
    emails = outbox()
    assert len(emails) == 1
    text, body = parts(emails[0])
    for line in ("Where is my order?", "Let me check.", "It ships tomorrow.", "Anything else?"):
        assert line in text and line in body
    assert "VIP" not in text and "VIP" not in body
    assert Conversation.get(conversation.id).digest_sent_seq == 4
    assert Conversation.get(conversation.id).digest_pending_seq is None

    # the next reply starts the next quiet period, and its digest brings only what is new
    reply(world, agent, conversation.id, "Tracking: 123")
    emails = outbox()
    assert len(emails) == 2 and "Tracking: 123" in parts(emails[1])[0]


def test_no_digest_while_the_visitor_is_connected_and_none_once_they_read_it(world, outbox):
    visitor, agent, conversation = chat(world)
    reply(world, agent, conversation.id, "Hello there")
    assert Conversation.get(conversation.id).digest_pending_seq is None
    assert outbox() == []

    leave(world, visitor)
    answer = reply(world, agent, conversation.id, "Are you still there?")
    back = world.visitor_connection(world.visitor_session(resume_token=world.token_for(visitor)))
    messaging.mark_read(back, conversation.id, answer["seq"], world.sender)
    assert outbox() == []


def test_no_digest_for_a_visitor_without_an_email(world, outbox):
    visitor, agent, conversation = chat(world, email_address=None)
    leave(world, visitor)
    reply(world, agent, conversation.id, "Hello?")
    assert outbox() == []


def test_every_email_has_headers_a_text_part_and_escaped_html(world, outbox):
    visitor, agent, conversation = chat(world)
    leave(world, visitor)
    reply(world, agent, conversation.id, "<script>alert(1)</script> & <b>bold</b>")
    [msg] = outbox()

    assert msg["To"].addresses[0].addr_spec == "dana@example.com"
    assert msg["From"].addresses[0].addr_spec == "support@parley.test"
    reply_to = msg["Reply-To"].addresses[0].addr_spec
    assert reply_to == render.reply_address(conversation.id) and reply_to.endswith("@" + DOMAIN)
    assert msg["Subject"] == "New reply from site-a"
    assert msg["Message-ID"].startswith("<") and msg["Message-ID"].endswith(f"@{DOMAIN}>")
    assert email.utils.parsedate_to_datetime(msg["Date"]) is not None
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg.get_content_type() == "multipart/alternative"

    text, body = parts(msg)
    assert "<script>alert(1)</script> & <b>bold</b>" in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &lt;b&gt;bold&lt;/b&gt;" in body
    assert "<script" not in body and "<b>" not in body


def test_the_digest_link_resumes_the_visitor_on_the_page_they_were_on(world, outbox):
    visitor, agent, conversation = chat(world)
    leave(world, visitor)
    reply(world, agent, conversation.id, "Answer")
    [msg] = outbox()
    text, _ = parts(msg)
    link = next(word for word in text.split() if word.startswith("https://shop.example/"))
    query = dict(urllib.parse.parse_qsl(urllib.parse.urlsplit(link).query))
    assert query["x"] == "1" and query["parley_conversation"] == conversation.id
    # the token is a resume token: a new session with it is the same visitor
    again = sessions.create_visitor_session({"site_key": "site-a", "resume_token": query["parley_resume"]})
    assert again["visitor_id"] == visitor.id


def test_a_javascript_page_url_never_becomes_a_link(world, outbox):
    visitor, agent, conversation = chat(world, page_url="javascript:alert(1)//https://x")
    leave(world, visitor)
    reply(world, agent, conversation.id, "Answer")
    [msg] = outbox()
    text, body = parts(msg)
    assert "javascript:" not in text and "javascript:" not in body and "parley_resume" not in text


def test_a_french_visitor_gets_french(world, outbox):
    visitor, agent, conversation = chat(world, locale="fr-FR")
    leave(world, visitor)
    reply(world, agent, conversation.id, "Bonjour")
    [msg] = outbox()
    assert msg["Subject"] == "Nouvelle réponse de site-a"
    text, body = parts(msg)
    assert "Ouvrir la conversation" in text and 'lang="fr"' in body and "Vous" in text


def test_a_redelivered_job_sends_once(world, outbox):
    visitor, agent, conversation = chat(world)
    body = json.dumps({"id": "job_fixed", "kind": "transcript", "conversation_id": conversation.id,
                       "email": "d@example.com"})
    record = {"messageId": "m-1", "receiptHandle": "r-1", "body": body, "eventSource": "aws:sqs"}
    assert app_module.send_email({"Records": [record]}, None) == {"batchItemFailures": []}
    assert app_module.send_email({"Records": [record]}, None) == {"batchItemFailures": []}  # SQS redelivers
    # the same job enqueued twice is two SQS messages, but one job id: still one email
    assert app_module.send_email({"Records": [{**record, "messageId": "m-2"}]}, None) == {"batchItemFailures": []}
    assert len(sent()) == 1


def test_email_off_changes_nothing(world, monkeypatch):
    monkeypatch.setattr(settings, "email_queue_url", "")
    visitor, agent, conversation = chat(world)
    leave(world, visitor)
    reply(world, agent, conversation.id, "Answer")
    assert Conversation.get(conversation.id).digest_pending_seq is None


# --- transcripts ----------------------------------------------------------------------------

def test_a_transcript_is_queued_then_sent_in_the_visitors_language(world, outbox):
    visitor, agent, conversation = chat(world, locale="fr")
    reply(world, agent, conversation.id, "Voilà <i>tout</i>")
    reply(world, agent, conversation.id, "secret note", internal=True)
    ws.handle_frame(visitor.connection_id, json.dumps({"action": "transcript", "ref": "t1",
                                                       "conversation_id": conversation.id,
                                                       "email": "Copy@Example.com"}), world.sender)
    [ack] = [f for f in world.api.of(visitor.connection_id, "ack") if f["ref"] == "t1"]
    assert ack["queued"] is True
    [msg] = outbox()
    assert msg["To"].addresses[0].addr_spec == "copy@example.com"
    assert msg["Subject"] == "Votre conversation avec site-a"
    text, body = parts(msg)
    assert "Where is my order?" in text and "Voilà <i>tout</i>" in text
    assert "Voilà &lt;i&gt;tout&lt;/i&gt;" in body and "secret" not in text + body


def test_transcript_checks_the_email_and_the_conversation(world, outbox):
    visitor, agent, conversation = chat(world)
    other = world.visitor_connection()
    for conn, fields, code in ((visitor, {"conversation_id": conversation.id, "email": "nope"}, "bad_request"),
                               (other, {"conversation_id": conversation.id, "email": "a@b.co"}, "not_found")):
        ws.handle_frame(conn.connection_id, json.dumps({"action": "transcript", "ref": "x", **fields}), world.sender)
        assert world.api.of(conn.connection_id, "error")[-1]["code"] == code
    assert outbox() == []


# --- one-click ratings and the flows' seams -------------------------------------------------

def test_csat_email_links_record_the_rating_once(world, outbox):
    visitor, agent, conversation = chat(world)
    assert outgoing.request_csat_email(conversation)
    [msg] = outbox()
    text, body = parts(msg)
    links = [w for w in text.split() if w.startswith("https://api.parley.test/v1/csat/")]
    assert len(links) == 5
    four = next(link for link in links if f"/{conversation.id}/4?" in link)
    path = urllib.parse.urlsplit(four)
    sig = dict(urllib.parse.parse_qsl(path.query))["sig"]

    with Client(app_module.app) as client:
        forged = client.http.get(f"/v1/csat/{conversation.id}/5?sig={sig}")
        assert forged.status_code == 404
        first = client.http.get(f"{path.path}?{path.query}")
        assert first.status_code == 200 and b"Thanks" in first.body
        assert first.headers["Content-Type"].startswith("text/html")
        assert "default-src 'none'" in first.headers["Content-Security-Policy"]
        second = client.http.get(f"{path.path}?{path.query}")
        assert second.status_code == 409 and b"Already rated" in second.body
    assert Conversation.get(conversation.id).csat.as_dict() == {"rating": 4}
    # a rated conversation gets no second request
    assert outgoing.request_csat_email(conversation.id)
    assert len(outbox()) == 1


def test_missed_chat_email_says_the_answer_comes_by_email(world, outbox):
    visitor, agent, conversation = chat(world)
    assert outgoing.missed_chat_email(conversation)
    [msg] = outbox()
    assert msg["Subject"] == "We'll answer you by email"
    assert "Where is my order?" in parts(msg)[0]


# --- replies by email -----------------------------------------------------------------------

def eml(name: str, conversation_id: str, *, to: str | None = None) -> bytes:
    raw = (EVENTS / name).read_text(encoding="utf-8")
    return raw.replace("{{REPLY_TO}}", to or render.reply_address(conversation_id)).encode()


def test_a_multipart_reply_is_appended_once_without_its_quoted_text(world, outbox):
    visitor, agent, conversation = chat(world)
    raw = eml("inbound_gmail_reply.eml", conversation.id)
    result = incoming.receive_inbound(raw, world.sender)
    assert result["stored"] is True
    again = incoming.receive_inbound(raw, world.sender)  # SES delivered it twice
    assert again["message"]["id"] == result["message"]["id"]

    messages = list(Message.query(conversation.id))
    assert len(messages) == 2
    stored = messages[-1]
    assert stored.author_kind == "visitor" and stored.author_id == visitor.id
    assert stored.text == "Thanks, that works for me.\n\nCould you also gift-wrap it? Ça serait parfait."
    assert [f["message"]["text"] for f in world.api.of(agent.connection_id, "message")][-1] == stored.text


def test_an_html_only_outlook_reply_is_stripped_to_its_new_text(world, outbox):
    visitor, agent, conversation = chat(world)
    result = incoming.receive_inbound(eml("inbound_outlook_html.eml", conversation.id), world.sender)
    assert result["message"]["text"] == "Yes please, go ahead & ship it."


def test_a_french_reply_loses_its_le_a_ecrit_quote(world, outbox):
    visitor, agent, conversation = chat(world)
    result = incoming.receive_inbound(eml("inbound_french_reply.eml", conversation.id), world.sender)
    assert result["message"]["text"] == "Parfait, merci beaucoup !"


def test_a_forged_reply_address_is_refused(world, outbox):
    visitor, agent, conversation = chat(world)
    forged = f"reply+{conversation.id}.{'0' * 20}@{DOMAIN}"
    with pytest.raises(UnauthorizedError):
        incoming.receive_inbound(eml("inbound_gmail_reply.eml", conversation.id, to=forged), world.sender)
    with pytest.raises(NotFoundError):
        incoming.receive_inbound(eml("inbound_gmail_reply.eml", conversation.id, to="someone@example.com"),
                             world.sender)
    assert len(list(Message.query(conversation.id))) == 1


def test_auto_replies_are_ignored(world, outbox):
    visitor, agent, conversation = chat(world)
    raw = eml("inbound_gmail_reply.eml", conversation.id).replace(b"Subject:", b"Auto-Submitted: auto-replied\r\nSubject:", 1)
    assert incoming.receive_inbound(raw, world.sender)["stored"] is False


def test_an_s3_event_appends_the_stored_email(world, outbox, monkeypatch):
    visitor, agent, conversation = chat(world)
    s3 = boto3.client("s3", region_name="us-east-1")
    s3.create_bucket(Bucket="parley-inbound")
    s3.put_object(Bucket="parley-inbound", Key="mail/abc", Body=eml("inbound_gmail_reply.eml", conversation.id))
    bootstrap.configure(sender=world.sender)  # the app, built with this world's sender
    event = {"Records": [{"eventSource": "aws:s3", "s3": {"bucket": {"name": "parley-inbound"},
                                                         "object": {"key": "mail/abc"}}}]}
    app_module.receive_email(event, None)
    assert Conversation.get(conversation.id).last_seq == 2


def test_signatures_are_per_conversation():
    assert tokens.verify_mail_signature(tokens.mail_signature("reply", "c_1"), "reply", "c_1")
    assert not tokens.verify_mail_signature(tokens.mail_signature("reply", "c_1"), "reply", "c_2")


def test_a_failed_job_is_retried_alone_while_the_rest_of_its_batch_is_done(world, outbox):
    visitor, agent, conversation = chat(world)
    sqs = boto3.client("sqs", region_name="us-east-1")
    outgoing.request_transcript(conversation, "good@example.com", visitor)
    sqs.send_message(QueueUrl=outbox.queue_url, MessageBody=json.dumps(
        {"id": "job_broken", "kind": "transcript", "conversation_id": conversation.id}))  # no email: fails
    got = sqs.receive_message(QueueUrl=outbox.queue_url, MaxNumberOfMessages=10, VisibilityTimeout=0)["Messages"]
    assert len(got) == 2
    records = [{"messageId": m["MessageId"], "receiptHandle": m["ReceiptHandle"], "body": m["Body"]} for m in got]
    broken = next(m["MessageId"] for m in got if json.loads(m["Body"])["id"] == "job_broken")
    response = app_module.send_email({"Records": records}, None)
    assert response == {"batchItemFailures": [{"itemIdentifier": broken}]}  # SQS retries it (then parks it)
    assert [m["To"].addresses[0].addr_spec for m in sent()] == ["good@example.com"]


def test_an_undeclared_charset_reply_is_read_as_utf8(world, outbox):
    visitor, agent, conversation = chat(world)
    raw = (f"From: dana@example.com\r\nTo: {render.reply_address(conversation.id)}\r\nSubject: Re\r\n"
           f"Message-ID: <plain-1@example.com>\r\n\r\nMerci, à bientôt\r\n\r\n"
           f"Le lun. 23 nov. 2026, Demo <x@y> a écrit :\r\n> avant\r\n").encode()
    assert incoming.receive_inbound(raw, world.sender)["message"]["text"] == "Merci, à bientôt"


@pytest.mark.parametrize("text, expected", [
    ("New\n\n> old\n> older", "New"),
    ("New\n-----Original Message-----\nFrom: x", "New"),
    ("New\n\nOn Tue, Nov 24, 2026 at 9:00 AM Demo Shop <reply+c_1.aa@x>\nwrote:\n> q", "New"),
    ("Line one\nLine two\n-- \nSig", "Line one\nLine two"),
    ("> only quoted", ""),
])
def test_strip_quoted(text, expected):
    assert incoming.strip_quoted(text) == expected


def test_emails_name_the_stages_configuration_set_when_there_is_one(world, outbox, monkeypatch):
    """Bounces and complaints reach the stage's SES configuration set (infra/template.yaml) only if every
    send names it; moto ignores the parameter, so the request itself is read."""
    named = []
    clients.client("ses").meta.events.register(
        "before-parameter-build.ses.SendRawEmail", lambda params, **_: named.append(params.get("ConfigurationSetName")))
    visitor, agent, conversation = chat(world)
    for address, configuration_set in (("one@example.com", ""), ("two@example.com", "parley-test-email")):
        monkeypatch.setattr(settings, "ses_configuration_set", configuration_set)
        ws.handle_frame(visitor.connection_id, json.dumps({"action": "transcript", "ref": address,
                                                           "conversation_id": conversation.id,
                                                           "email": address}), world.sender)
        outbox()
    assert named == [None, "parley-test-email"]
