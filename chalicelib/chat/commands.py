"""What a person asks of a conversation, one function each: the steps in order, and the queue settled
when a slot moved. The edges (edges/ws.py, app.py) only parse the request and answer with the result."""
from dataclasses import dataclass, field

from pynamodb.exceptions import DoesNotExist

from chalicelib import observability
from chalicelib.aws import stepfunctions
from chalicelib.chat import (
    assignment,
    bot_turns,
    conversations,
    intake,
    messaging,
    notices,
    routing,
    sites,
    subscriptions,
)
from chalicelib.core.caller import Caller
from chalicelib.errors import ConflictError, ForbiddenError, NotFoundError
from chalicelib.store.models import Agent, Conversation


@dataclass
class Outcome:
    """A command's conversation, and the messages it stored on the way (keyed as the ack names them)."""
    conversation: Conversation
    stored: dict = field(default_factory=dict)


def start_chat(caller: Caller, body: dict, sender, *, text: str | None = None,
               client_msg_id: str | None = None) -> Outcome:
    """A visitor opens the chat (with its first message, if any): their conversation, found or created;
    agents hear of a new one once its first message is there to read, then routing takes it."""
    conversation = intake.start(caller, body, sender, announce=False)
    observability.annotate(conversation_id=conversation.id)  # the rest of this request's logs are about it
    if bot_turns.holds(conversation):  # the bot opens (and answers what the visitor wrote first)
        played = bot_turns.opening(caller, conversation, sender, words=text, client_msg_id=client_msg_id)
        outcome = Outcome(played.conversation, {"message": played.message} if played.message else {})
        outcome.stored["messages"] = played.replies  # (a turn that moved the status read it back: bot_turns._play)
        return outcome
    new = conversation.last_seq == 0 and conversation.status == "queued"
    outcome = Outcome(conversation)
    if text is not None:
        message, written = messaging.post_message(caller, conversation.id, text, client_msg_id=client_msg_id,
                                                  internal=False, sender=sender, ack=False)
        outcome.stored["message"] = message
        _back_to_queue(written, sender)
        conversation.refresh(consistent_read=True)
        # A retry of the start that made the conversation, whose first try stored the message and then
        # failed (a throttle) before what follows: it is still new. Each step below is idempotent.
        new = new or (message["seq"] == 1 and conversation.status == "queued")
    if new:
        subscriptions.notify_inbox(conversation, sender)
        routing.route_new(conversation, sender)
        conversation.refresh(consistent_read=True)
        if conversation.status == "queued":  # nobody free: the handoff flow waits for an agent
            stepfunctions.start_handoff(conversation, announce=False)
    return outcome


def send(caller: Caller, conversation_id: str, text: str, sender, *, client_msg_id: str | None,
         internal: bool = False, ref: str | None = None) -> dict:
    """A message, stored then delivered (its ack carries it). A visitor writing on after a solve that no
    agent holds (an article answered them, or an agent solved it from the queue) is waiting for a human again."""
    if caller.is_agent:
        return messaging.send_message(caller, conversation_id, text, client_msg_id=client_msg_id,
                                      internal=internal, sender=sender, ref=ref)
    # In a conversation the bot holds, the bot answers in the same write (chat/bot_turns.py).
    played = bot_turns.visitor_turn(caller, conversation_id, sender, words=text, client_msg_id=client_msg_id,
                                    ack=True, ref=ref)
    if not played.answered:
        _back_to_queue(played.conversation, sender)
    return played.message


def choose(caller: Caller, conversation_id: str, option_id: str, sender, *,
           client_msg_id: str | None = None) -> Outcome:
    """A visitor's answer to the bot's question (a quick reply, `human`, `yes`/`no`, `skip`): stored as
    its label, with the bot's answer (chat/bot_turns.py)."""
    played = bot_turns.visitor_turn(caller, conversation_id, sender, option=option_id, client_msg_id=client_msg_id)
    return Outcome(played.conversation, {"message": played.message, "messages": played.replies,
                                         "duplicate": played.duplicate})


def _back_to_queue(conversation: Conversation, sender) -> None:
    """A solved conversation without an assignee goes back to the queue, at its back (a reply to an
    assigned one reopens it to its agent as it is stored: messaging.store_message)."""
    if conversation.status != "solved" or conversation.assignee_id:
        return
    try:
        conversation = assignment.assign(Caller.system(conversation.workspace_id), conversation, None, "queued",
                                         sender, verify_agent=False)
    except ConflictError:
        return  # someone moved it meanwhile: theirs is the newer state
    routing.route_new(conversation, sender)


def accept(caller: Caller, conversation_id: str, sender) -> Conversation:
    """An agent takes a conversation from the queue and follows it on this socket."""
    before = _before(caller, conversation_id)
    conversation = assignment.accept(caller, conversation_id, sender)
    subscriptions.subscribe(caller.connection_id, "agent", conversation.id)
    routing.settle(caller.workspace_id, sender)  # the queue moved: new positions
    _tell_visitor(caller, before, conversation, sender)
    return conversation


def transfer(caller: Caller, conversation_id: str, sender, *, to_agent: str | None = None,
             to_group: str | None = None, note: str | None = None) -> Outcome:
    """To an agent (who takes it now, within capacity) or to a group's queue (a receptionist passing a
    technical chat to the second tier). The history stays; a system message says what happened."""
    conversation = conversations.load(caller, conversation_id)
    if to_agent:
        status = conversation.status if conversation.status in conversations.ACTIVE else "open"
        conversation = assignment.assign(caller, conversation, to_agent, status, sender)
    else:
        conversation = assignment.assign(caller, conversation, None, "queued", sender, group=to_group)
    routing.settle(caller.workspace_id, sender)  # a slot was freed; someone of the group may take it
    # In the visitor's words: a colleague's name, or the team's label the site chose (never its internal name).
    locale = messaging.visitor_locale(conversation)
    colleague = Agent.get(to_agent).name if to_agent else None
    target = (colleague or notices.text("an_agent", locale) if to_agent
              else notices.team_label(sites.texts(conversation.site_key), to_group, locale))
    messaging.post_system_message(conversation, notices.text("transferred", locale, to=target,
                                                             by=caller.name or notices.text("an_agent", locale)),
                                  sender, notice="transferred", agent_name=colleague)
    outcome = Outcome(conversation)
    if note:  # the ack carries it to its writer; every other agent on the conversation gets the event
        outcome.stored["note"] = messaging.send_message(caller, conversation.id, note, client_msg_id=None,
                                                        internal=True, sender=sender, ack=False)
    conversation.refresh(consistent_read=True)
    return outcome


def set_status(caller: Caller, conversation_id: str, status: str, sender) -> Conversation:
    before = _before(caller, conversation_id)
    conversation = assignment.set_status(caller, conversation_id, status, sender)
    routing.settle(caller.workspace_id, sender)  # a solve frees a slot
    _tell_visitor(caller, before, conversation, sender)
    return conversation


def patch(caller: Caller, conversation_id: str, body: dict, sender) -> Conversation:
    """PATCH /v1/conversations/{id}: title, tags, status, assignee."""
    before = _before(caller, conversation_id)
    conversation = assignment.patch(caller, conversation_id, body, sender)
    routing.settle(caller.workspace_id, sender)  # a new assignee or a solve may have moved a slot
    _tell_visitor(caller, before, conversation, sender)
    return conversation


def _before(caller: Caller, conversation_id: str) -> Conversation | None:
    """The conversation as it was, to tell what a command changed; none if it cannot be read (the command
    itself then answers why, its own checks first)."""
    try:
        return conversations.load(caller, conversation_id)
    except (NotFoundError, ForbiddenError):
        return None


def _tell_visitor(caller: Caller, before: Conversation | None, after: Conversation, sender) -> None:
    """What the visitor hears of a change an agent made: someone new took the chat, or it was solved.
    A retry that changed nothing says nothing (the state before is the state after)."""
    if before is None:
        return
    if after.status in conversations.ACTIVE and after.assignee_id and after.assignee_id != before.assignee_id:
        name = caller.name if after.assignee_id == caller.id else _agent_name(after.assignee_id)
        messaging.post_notice(after, "joined", sender, agent=name)
    elif after.status == "solved" and before.status != "solved":
        messaging.post_notice(after, "solved", sender, agent=caller.name)


def _agent_name(agent_id: str) -> str | None:
    try:
        return Agent.get(agent_id).name
    except DoesNotExist:  # removed meanwhile: the notice names "an agent"
        return None
