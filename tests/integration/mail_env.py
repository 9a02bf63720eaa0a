"""Email on moto for integration tests (the `outbox` fixture of tests/integration/conftest.py): what SES sent,
parsed, and the parts every email has."""
import email
from email import policy

DOMAIN = "reply.parley.test"  # the inbound domain replies are addressed to


def sent() -> list:
    from moto.ses.models import ses_backends
    return [email.message_from_string(m.raw_data, policy=policy.default)
            for m in ses_backends["123456789012"]["us-east-1"].sent_messages]


def parts(msg) -> tuple[str, str]:
    return msg.get_body(("plain",)).get_content(), msg.get_body(("html",)).get_content()
