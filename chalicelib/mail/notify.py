"""The emails the flows ask for, through the email queue (mail/outgoing.py); nothing waits on SES here."""
from chalicelib.mail import outgoing
from chalicelib.store.models import Conversation


def request_csat_email(conversation: Conversation) -> bool:
    """Ask a visitor who left for a rating by email, with one-click rating links.

    False when there is nowhere to send it: email is off, or the visitor gave no address."""
    if not conversation.visitor_email:
        return False
    return outgoing.request_csat_email(conversation)


def missed_chat_email(conversation: Conversation) -> bool:
    """Nobody answered in time: tell the visitor by email that the answer will come there."""
    if not conversation.visitor_email:
        return False
    return outgoing.missed_chat_email(conversation)
