"""The steps of the Step Functions flows (infra/statemachines/*.asl.json), run by the `flow_task` Lambda.

Each step re-reads the conversation and acts only if it is still in the state the flow expects,
so a retried step, a late step or a step overtaken by a newer message changes nothing.
"""
import logging

from pynamodb.exceptions import DoesNotExist

from chalicelib import observability
from chalicelib.aws import stepfunctions
from chalicelib.chat import assignment, conversations, messaging, notices, routing, subscriptions
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso, now, parse_iso
from chalicelib.errors import BadRequestError, ConflictError
from chalicelib.mail import notify
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Conversation, Site, Workspace
from chalicelib.webhooks import delivery

log = logging.getLogger(__name__)

def run_task(event: dict, sender) -> dict:
    """The Lambda's entry: dispatch on `action`."""
    task = TASKS.get(event.get("action"))
    if task is None:
        raise BadRequestError(f"unknown flow task {str(event.get('action'))[:40]!r}", field="action")
    return task(event, sender)


def _get(conversation_id: str) -> Conversation | None:
    try:
        return Conversation.get(conversation_id, consistent_read=True)
    except DoesNotExist:
        return None


def _last_public_seq(conversation: Conversation) -> int | None:
    last = conversations.plain(conversation.last_message) or {}
    return int(last["seq"]) if "seq" in last else None


# --- handoff --------------------------------------------------------------------------------

def handoff_route(event: dict, sender) -> dict:
    """Assign if anyone is free; else tell the visitor their place in the queue."""
    conversation = _get(event["conversation_id"])
    if conversation is None or conversation.status != "queued":
        return {"queued": False}
    routing.drain(conversation.workspace_id, sender)
    conversation.refresh(consistent_read=True)
    queued = conversation.status == "queued"
    if queued and event.get("announce", True):
        routing.announce_one(conversation, sender)
    return {"queued": queued}


def handoff_wait(event: dict, sender) -> dict:
    """Keep the task token on the queued conversation: its assignment resumes the flow
    (stepfunctions.release_handoff). If it left the queue already, resume the flow now."""
    token = event["task_token"]
    if not update_if(Conversation(event["conversation_id"]), [Conversation.task_token.set(token)],
                     Conversation.status == "queued"):
        conversation = _get(event["conversation_id"])
        stepfunctions.send_success(token, {"status": conversation.status if conversation else None})
    return {}


def handoff_timeout(event: dict, sender) -> dict:
    """Nobody took the conversation in time: record the missed chat, alert the team, tell the visitor
    the answer comes by email. The conversation stays queued for agents to answer later."""
    conversation = _get(event["conversation_id"])
    if conversation is None or conversation.status != "queued":
        return {"missed": False}
    stamp = iso()
    queued_at = conversation.queued_at or conversation.created_at
    # Once per time in the queue: a retried step, or a second timeout of the same wait, does nothing.
    not_yet = Conversation.missed_at.does_not_exist() | (Conversation.missed_at < queued_at)
    missed = [Conversation.missed.set(True), Conversation.missed_at.set(stamp), Conversation.task_token.remove()]
    if not update_if(conversation, missed,
                     (Conversation.status == "queued") & (Conversation.queued_at == queued_at) & not_yet):
        return {"missed": False}
    Workspace(conversation.workspace_id).update(actions=[Workspace.missed_chats.add(1)])
    observability.metric("MissedChats")
    _alert_team(conversation, queued_at)
    subscriptions.notify_change(conversation, sender)  # the visitor's widget stops showing a place in the queue
    code, values = (("missed_with_email", {"email": conversation.visitor_email}) if conversation.visitor_email
                    else ("missed_without_email", {}))
    text = notices.text(code, messaging.visitor_locale(conversation), **values)
    messaging.post_system_message(conversation, text, sender, notice=code)
    notify.missed_chat_email(conversation)
    return {"missed": True}


def _alert_team(conversation: Conversation, queued_at: str) -> None:
    try:
        site = Site.get(conversation.site_key)
    except DoesNotExist:
        return
    url = site.settings.webhook_url
    if not url:
        return
    waited = max(0, int(now() - parse_iso(queued_at)))
    who = conversation.visitor_name or conversation.visitor_email or "A visitor"
    last = conversations.plain(conversation.last_message) or {}
    text = (f"Missed chat on {site.name}: {who} waited {waited // 60} min {waited % 60} s and nobody answered. "
            f"Reply from the console (conversation {conversation.id}).")
    if last.get("text") and last.get("kind") == "visitor":
        text += f"\n> {last['text']}"
    delivery.enqueue(url, {"text": text, "event": "missed_chat", "conversation_id": conversation.id,
                           "site_key": conversation.site_key, "visitor_email": conversation.visitor_email,
                           "waited_seconds": waited})


# --- inactivity -----------------------------------------------------------------------------

# One watch (an execution of inactivity.asl.json) per stretch of agent replies: it sleeps until the
# newest agent reply is inactivity_wait old, re-arming while newer ones come, then reminds the visitor
# (`pending`), and auto-solves after pending_wait of silence. Each step answers what comes next:
# {"next": "wait", "wait": seconds} | {"next": "pending", "seq": reminder} | {"next": "done"}.
DONE = {"next": "done"}


def _again_soon() -> dict:
    """Another writer moved the conversation while this step looked: look again in a second."""
    return {"next": "wait", "wait": 1}


def _watch_update(conversation: Conversation, owner: int, actions: list, *, unchanged: bool = False) -> bool:
    """Apply `actions` if this watch still owns the conversation (and, with `unchanged`, nothing was
    written since it was read); False when the condition failed."""
    condition = Conversation.inactivity_owner == owner
    if unchanged:
        condition &= Conversation.last_seq == conversation.last_seq
    return update_if(conversation, actions, condition)


def inactivity_check(event: dict, sender) -> dict:
    """The watch wakes: wait for the newest agent reply's turn, remind and set `pending`, or end (the
    visitor had the last word, the conversation is done, or a newer watch took over)."""
    owner, wait = int(event["owner"]), int(event["inactivity_wait"])
    conversation = _get(event["conversation_id"])
    if conversation is None or conversation.inactivity_owner != owner:
        return DONE
    last = conversations.plain(conversation.last_message) or {}
    if conversation.status not in ("open", "pending") or last.get("kind") != "agent":
        # Ends only if nothing was written since it looked: a reply racing this step finds a watch.
        released = _watch_update(conversation, owner, [Conversation.inactivity_until.remove()], unchanged=True)
        return DONE if released else _again_soon()
    remaining = parse_iso(last["at"]) + wait - now()
    if remaining > 0:
        seconds = max(1, int(remaining + 0.999))
        alive = [Conversation.inactivity_until.set(int(now()) + seconds + stepfunctions.WATCH_MARGIN)]
        return {"next": "wait", "wait": seconds} if _watch_update(conversation, owner, alive) else DONE
    return _remind(conversation, owner, int(last["seq"]), sender)


def _remind(conversation: Conversation, owner: int, seq: int, sender) -> dict:
    """No reply since the agent's message `seq`: `pending`, and a system message asking."""
    if conversation.status == "open":
        try:
            conversation = assignment.set_status(Caller.system(conversation.workspace_id), conversation.id,
                                                    "pending", sender, expect_seq=int(conversation.last_seq))
        except ConflictError:
            return _again_soon()  # someone wrote or moved it meanwhile
    text = notices.text("still_there", messaging.visitor_locale(conversation))
    message = messaging.post_system_message(conversation, text, sender, notice="still_there")
    # While it waits in `pending`, a new agent reply starts a watch of its own (this one then ends).
    if not _watch_update(conversation, owner, [Conversation.inactivity_until.remove()]):
        return DONE
    return {"next": "pending", "seq": message["seq"]}


def inactivity_solve(event: dict, sender) -> dict:
    """Still silent since the reminder `seq`: solved, automatically (no survey follows). Otherwise the
    watch goes on as after any wake-up."""
    conversation = _get(event["conversation_id"])
    if conversation is None or conversation.inactivity_owner != int(event["owner"]):
        return DONE
    if conversation.status != "pending" or _last_public_seq(conversation) != int(event["seq"]):
        return inactivity_check(event, sender)
    try:
        assignment.set_status(Caller.system(conversation.workspace_id), conversation.id, "solved", sender,
                                 auto_solved=True, expect_seq=int(conversation.last_seq))
    except ConflictError:
        return _again_soon()
    routing.settle(conversation.workspace_id, sender)  # a slot was freed
    messaging.post_notice(conversation, "solved_auto", sender)  # the visitor and the console thread say so
    return {"next": "done", "solved": True}


# --- the bot watch --------------------------------------------------------------------------

# One watch (an execution of bot.asl.json) per stretch of bot turns: it sleeps until the conversation has
# been quiet idle_wait, re-arming while the visitor answers; a conversation the bot still holds is then
# solved, outcome `assumed`, which becomes final final_wait later unless the visitor came back.

def bot_check(event: dict, sender) -> dict:
    """{"next": "wait", "wait": s} | {"next": "assumed", "at": stamp} | {"next": "done"}."""
    wait = int(event["idle_wait"])
    conversation = _get(event["conversation_id"])
    if conversation is None:
        return DONE
    if conversation.status != "bot":
        released = update_if(conversation, [Conversation.bot_until.remove()],
                             Conversation.last_seq == conversation.last_seq)
        return DONE if released else _again_soon()
    remaining = parse_iso(conversation.activity_at) + wait - now()
    unchanged = (Conversation.last_seq == conversation.last_seq) & (Conversation.status == "bot")
    if remaining > 0:
        seconds = max(1, int(remaining + 0.999))
        alive = [Conversation.bot_until.set(int(now()) + seconds + stepfunctions.WATCH_MARGIN)]
        return {"next": "wait", "wait": seconds} if update_if(conversation, alive, unchanged) else _again_soon()
    state = conversations.plain(conversation.bot) or {}
    stamp = iso()
    if not state.get("engaged"):  # opened, never answered: no outcome, closed (a return starts anew)
        closed = update_if(conversation, [Conversation.status.set("closed"), Conversation.bot_until.remove(),
                                          *conversations.index_actions(conversation.workspace_id, "closed", None)],
                           unchanged)
        return DONE if closed else _again_soon()
    solved = [Conversation.status.set("solved"), Conversation.solved_at.set(stamp),
              Conversation.resolution.set("bot"), Conversation.auto_solved.set(True),
              Conversation.bot_outcome.set("assumed"), Conversation.bot_outcome_at.set(stamp),
              Conversation.bot_outcome_final.set(False), Conversation.bot_until.remove(),
              *conversations.index_actions(conversation.workspace_id, "solved", None)]
    if not update_if(conversation, solved, unchanged):
        return _again_soon()  # the visitor answered meanwhile
    conversation.refresh(consistent_read=True)
    subscriptions.notify_subscribers(conversation, sender)  # the visitor's tabs; no agent's inbox had it
    observability.metric("BotOutcomes", outcome="assumed")
    return {"next": "assumed", "at": stamp}


def bot_finalize(event: dict, sender) -> dict:
    """The 24 hours after an assumed outcome are over: final, unless the visitor's return reverted it."""
    conversation = _get(event["conversation_id"])
    if conversation is None or conversation.bot_outcome != "assumed" or conversation.bot_outcome_at != event["at"]:
        return {"final": False}
    final = update_if(conversation, [Conversation.bot_outcome_final.set(True)],
                      (Conversation.bot_outcome == "assumed") & (Conversation.bot_outcome_at == event["at"]))
    return {"final": final}


# --- csat -----------------------------------------------------------------------------------

def csat_request(event: dict, sender) -> dict:
    """Ask for a rating: in chat on the visitor's live sockets, else by email."""
    conversation = _get(event["conversation_id"])
    if (conversation is None or conversation.status != "solved" or conversation.solved_at != event["solved_at"]
            or conversation.auto_solved or conversation.csat):
        return {"channel": "none"}
    visitors = [cid for cid, kind in subscriptions.recipients(conversation) if kind == "visitor"]
    frame = {"type": "csat_request", "conversation_id": conversation.id}
    reached = [cid for cid in visitors if sender.send(cid, frame)]
    if reached:
        return {"channel": "chat"}
    return {"channel": "email" if notify.request_csat_email(conversation) else "none"}


def csat_close(event: dict, sender) -> dict:
    return {"closed": assignment.close_if_solved(event["conversation_id"], event["solved_at"], sender)}


TASKS = {"handoff_route": handoff_route, "handoff_wait": handoff_wait, "handoff_timeout": handoff_timeout,
         "inactivity_check": inactivity_check, "inactivity_solve": inactivity_solve,
         "bot_check": bot_check, "bot_finalize": bot_finalize,
         "csat_request": csat_request, "csat_close": csat_close}
