"""Email on the local stack: the SQS queue and its consumer, the SES outbox page, inbound email.

On AWS, Lambda polls the email queue and SES's receipt rule drops replies in S3. Here a background
task polls moto's queue and calls the app's consumer; `/_local/outbox` shows every email moto's SES
would have sent (read from moto's backend); `/_local/inbound` takes a raw
RFC 822 email as if SES had received it.
"""
import asyncio
import html
import json
import logging
import os
import re
from email import policy
from email.parser import Parser

log = logging.getLogger("parley.local")

REGION = "us-east-1"
SENDER_DOMAIN = "parley.example"
INBOUND_DOMAIN = "reply.parley.example"
MAX_RECEIVES = 3  # then the dead-letter queue
_URL = re.compile(r"https?://[^\s<>\"']+")


def configure(port: int) -> None:
    """The queue with its dead-letter queue, a verified sender, and the app's email settings."""
    import boto3
    sqs = boto3.client("sqs", region_name=REGION)
    dlq = sqs.create_queue(QueueName="parley-local-email-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    queue = sqs.create_queue(QueueName="parley-local-email", Attributes={
        "VisibilityTimeout": "5",  # a failed email is retried at local speed
        "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(MAX_RECEIVES)}),
    })["QueueUrl"]
    boto3.client("ses", region_name=REGION).verify_domain_identity(Domain=SENDER_DOMAIN)
    os.environ.update({"PARLEY_EMAIL_QUEUE_URL": queue, "PARLEY_EMAIL_QUEUE": "parley-local-email",
                       "PARLEY_EMAIL_FROM": f"Parley <support@{SENDER_DOMAIN}>",
                       "PARLEY_INBOUND_DOMAIN": INBOUND_DOMAIN,
                       "PARLEY_PUBLIC_API_URL": f"http://127.0.0.1:{port}"})
    os.environ.setdefault("PARLEY_DIGEST_DELAY", "2")


async def poll_email_queue(chalice_app, executor, stop: asyncio.Event) -> None:
    """Lambda's SQS event source for the email queue (infra/local/sqs.py), long-polled on `executor` (the
    pollers' own): batches of up to 10 jobs to the consumer; the ones it reports as failed come back after
    the visibility timeout (or go to the DLQ)."""
    import boto3

    from . import sqs as event_source
    sqs = boto3.client("sqs", region_name=REGION)
    queue = os.environ["PARLEY_EMAIL_QUEUE_URL"]
    handler = chalice_app.handler_map["send_email"]
    await event_source.keep_polling(lambda: event_source.poll_once(sqs, queue, handler, "send_email"), executor, stop,
                                    "polling the email queue", idle=0.1)


def sent_in_this_process() -> list[dict]:
    """What moto's SES accepted, as it keeps it, when moto runs in this process (motohost.py has the same)."""
    from moto.core import DEFAULT_ACCOUNT_ID
    from moto.ses.models import ses_backends
    return [{"id": m.id, "source": m.source, "destinations": list(m.destinations),
             "raw_data": getattr(m, "raw_data", None)}
            for m in list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)]


def sent_emails(source=sent_in_this_process) -> list[dict]:
    """Every email moto's SES accepted, oldest first, parsed."""
    out = []
    for i, raw in enumerate(source()):
        data = raw["raw_data"]
        if data is None:  # a SendEmail (not raw) message; the app sends raw only
            continue
        msg = Parser(policy=policy.default).parsestr(data)
        text = msg.get_body(("plain",))
        body = msg.get_body(("html",))
        text = text.get_content() if text is not None else ""
        out.append({"index": i, "ses_message_id": raw["id"], "source": raw["source"],
                    "destinations": raw["destinations"],
                    "headers": {k: str(msg.get(k)) for k in ("From", "To", "Reply-To", "Subject", "Date",
                                                             "Message-ID", "References", "Auto-Submitted")
                                if msg.get(k) is not None},
                    "text": text, "html": body.get_content() if body is not None else "",
                    "links": _URL.findall(text)})
    return out


def _linked(text: str) -> str:
    """Escaped text whose http(s) URLs are links."""
    out, last = [], 0
    for m in _URL.finditer(text):
        out += [html.escape(text[last:m.start()]),
                f'<a href="{html.escape(m.group(0), quote=True)}">{html.escape(m.group(0))}</a>']
        last = m.end()
    return "".join(out + [html.escape(text[last:])])


PAGE_CSP = "default-src 'none'; style-src 'unsafe-inline'; frame-src 'self'; base-uri 'none'; form-action 'none'"
# The email's own HTML, shown in a sandboxed frame: no script, nothing fetched, links open a new tab.
MAIL_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'self'; form-action 'none'; "
            "sandbox allow-popups allow-popups-to-escape-sandbox")


def outbox_page(emails: list[dict]) -> str:
    esc = html.escape
    items = []
    for e in reversed(emails):
        heads = "".join(f"<tr><th>{esc(k)}</th><td>{esc(v)}</td></tr>" for k, v in e["headers"].items())
        items.append(
            f'<article class="mail" data-index="{e["index"]}"><h2>{esc(e["headers"].get("Subject", ""))}</h2>'
            f'<table>{heads}</table><h3>Text</h3><pre class="text">{_linked(e["text"])}</pre>'
            f'<h3>HTML</h3><iframe sandbox="allow-popups allow-popups-to-escape-sandbox" '
            f'src="/_local/outbox/{e["index"]}.html" title="HTML part"></iframe></article>')
    return ('<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Outbox (local SES)</title>'
            '<style>body{font-family:system-ui,sans-serif;max-width:60rem;margin:1rem auto;padding:0 1rem}'
            'article{border:1px solid #ccc;border-radius:6px;padding:0 1rem 1rem;margin:1rem 0}'
            'th{text-align:left;padding-right:1rem;vertical-align:top}td{word-break:break-all}'
            'pre{white-space:pre-wrap;background:#f6f8fa;padding:.5rem}iframe{width:100%;height:24rem;'
            'border:1px solid #ddd}</style></head><body><h1>Outbox</h1>'
            f'<p>{len(emails)} email(s) SES would have sent, newest first. '
            'JSON: <a href="/_local/outbox.json">/_local/outbox.json</a>. Replies: POST a raw email to '
            '<code>/_local/inbound</code>.</p>' + "".join(items) + "</body></html>")


def routes(executor, sender, source=sent_in_this_process) -> list:
    """`source()` lists what moto's SES accepted (sent_in_this_process, or moto's own process's answer)."""
    from aiohttp import web

    from chalicelib.errors import ParleyError
    from chalicelib.mail import incoming

    async def emails():
        return await asyncio.get_running_loop().run_in_executor(executor, sent_emails, source)

    async def outbox(_):
        return web.Response(text=outbox_page(await emails()), content_type="text/html",
                            headers={"Content-Security-Policy": PAGE_CSP})

    async def outbox_json(_):
        return web.json_response(await emails())

    async def one(request):
        index = int(request.match_info["index"])
        found = next((e for e in await emails() if e["index"] == index), None)
        if found is None:
            raise web.HTTPNotFound()
        return web.Response(text='<base target="_blank">' + found["html"], content_type="text/html",
                            headers={"Content-Security-Policy": MAIL_CSP, "X-Content-Type-Options": "nosniff"})

    async def inbound(request):
        raw = await request.read()
        loop = asyncio.get_running_loop()
        try:
            result = await loop.run_in_executor(executor, incoming.receive_inbound, raw, sender)
        except ParleyError as exc:
            return web.json_response({"error": exc.to_dict()}, status=exc.status)
        return web.json_response(result, status=201 if result.get("stored") else 200)

    return [web.get("/_local/outbox", outbox), web.get("/_local/outbox.json", outbox_json),
            web.get(r"/_local/outbox/{index:\d+}.html", one), web.post("/_local/inbound", inbound)]
