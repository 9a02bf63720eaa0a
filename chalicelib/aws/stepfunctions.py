"""Starting the Step Functions flows and answering their task tokens: the adapter the services call.

Executions are named from what triggered them (the conversation, the message seq, the solve time),
so a retried start finds the execution already there and changes nothing. A flow whose state
machine ARN is not configured is off: starting it does nothing. A failed start is logged, never
raised: a chat goes on without its timers rather than fail.
"""
import json
import logging
import time

from botocore.exceptions import BotoCoreError, ClientError
from pynamodb.exceptions import DoesNotExist

from chalicelib.aws.clients import client
from chalicelib.config import settings
from chalicelib.core.clock import parse_iso
from chalicelib.store.dynamo import update_if
from chalicelib.store.models import Conversation, Site, SiteSettings

log = logging.getLogger(__name__)

def start(state_machine_arn: str, name: str, data: dict) -> bool:
    """Start an execution named `name`; False when the flow is off, already started, or the start failed."""
    if not state_machine_arn:
        return False
    try:
        client("stepfunctions").start_execution(stateMachineArn=state_machine_arn, name=name,
                                 input=json.dumps(data, separators=(",", ":")))
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] == "ExecutionAlreadyExists":
            return False  # a retried start: the first one runs
        log.exception("starting a flow failed", extra={"execution": name})
    except BotoCoreError:
        log.exception("starting a flow failed", extra={"execution": name})
    return False


def send_success(task_token: str, output: dict) -> bool:
    """Resume a flow waiting on this token; False when it no longer waits (timed out, finished)."""
    try:
        client("stepfunctions").send_task_success(taskToken=task_token,
                                                  output=json.dumps(output, separators=(",", ":")))
        return True
    except ClientError as exc:
        if exc.response["Error"]["Code"] in ("TaskTimedOut", "TaskDoesNotExist", "InvalidToken"):
            return False
        log.exception("answering a task token failed")
    except BotoCoreError:
        log.exception("answering a task token failed")
    return False


_site_cache: dict[str, tuple[float, SiteSettings]] = {}


def _site_settings(site_key: str) -> SiteSettings:
    """A site's waits, cached per container for a minute: an agent's message starts the inactivity
    flow, and re-reading the site each time would add a DynamoDB request to every agent message."""
    cached = _site_cache.get(site_key)
    if cached and cached[0] > time.monotonic():
        return cached[1]
    try:
        value = Site.get(site_key).settings
    except DoesNotExist:
        value = SiteSettings()
    if settings.site_cache_seconds > 0:
        _site_cache[site_key] = (time.monotonic() + settings.site_cache_seconds, value)
    return value


def _stamp_ms(stamp: str) -> int:
    """An ISO stamp as epoch milliseconds, for execution names (which allow [A-Za-z0-9-_] only)."""
    return int(parse_iso(stamp) * 1000)


# --- the three flows ------------------------------------------------------------------------

def start_handoff(conversation: Conversation, *, announce: bool = True) -> bool:
    """A conversation entered the queue: one handoff per time it did (named by when it was queued).
    `announce=False` when the caller told the visitor their position already."""
    if not settings.handoff_arn or conversation.status != "queued":
        return False
    site = _site_settings(conversation.site_key)
    queued = _stamp_ms(conversation.queued_at or conversation.created_at)
    return start(settings.handoff_arn, f"handoff-{conversation.id}-{queued}",
                 {"conversation_id": conversation.id, "announce": announce,
                  "queue_timeout": int(site.queue_timeout)})


# How long past its next wake-up a watch still counts as alive: Step Functions' own delays and a task's
# retries fit in it; a watch that died is replaced by the next agent reply after it.
WATCH_MARGIN = 300


def inactivity_lease(conversation: Conversation, seq: int, at: float) -> tuple[list, dict | None]:
    """The conversation update that makes agent message `seq` start an inactivity watch, and the
    watch's waits; ([], None) when a watch is alive already (it re-arms itself for newer messages) or
    the flow is off. One execution then covers a whole stretch of replies instead of one per message:
    Step Functions bills per state transition."""
    until = conversation.inactivity_until
    if not settings.inactivity_arn or (until is not None and int(until) >= at):
        return [], None
    site = _site_settings(conversation.site_key)
    waits = {"inactivity_wait": int(site.inactivity_wait), "pending_wait": int(site.pending_wait)}
    return ([Conversation.inactivity_owner.set(seq),
             Conversation.inactivity_until.set(int(at) + waits["inactivity_wait"] + WATCH_MARGIN)], waits)


def start_inactivity(conversation: Conversation, seq: int, waits: dict | None = None) -> bool:
    """Agent message `seq` took the watch (inactivity_lease, which read its `waits`): start the
    execution that keeps it."""
    if not settings.inactivity_arn:
        return False
    if waits is None:
        site = _site_settings(conversation.site_key)
        waits = {"inactivity_wait": int(site.inactivity_wait), "pending_wait": int(site.pending_wait)}
    return start(settings.inactivity_arn, f"inactivity-{conversation.id}-{seq}",
                 {"conversation_id": conversation.id, "owner": seq, **waits})


def bot_watch_lease(conversation: Conversation, at: float) -> tuple[list, dict | None]:
    """The conversation update that makes this bot turn start the bot watch, and its waits; ([], None)
    when a watch is alive (it re-arms itself while the visitor keeps answering) or the flow is off."""
    until = conversation.bot_until
    if not settings.bot_arn or (until is not None and int(until) >= at):
        return [], None
    waits = {"idle_wait": settings.bot_idle_wait, "final_wait": settings.bot_final_wait}
    return [Conversation.bot_until.set(int(at) + waits["idle_wait"] + WATCH_MARGIN)], waits


def start_bot_watch(conversation: Conversation, waits: dict) -> bool:
    """This turn took the bot watch (bot_watch_lease): start the execution that keeps it."""
    return start(settings.bot_arn, f"bot-{conversation.id}-{int(conversation.last_seq)}",
                 {"conversation_id": conversation.id, **waits})


def start_csat(conversation: Conversation) -> bool:
    """An agent solved the conversation: one survey and close countdown per solve."""
    if not settings.csat_arn or conversation.status != "solved" or conversation.auto_solved \
            or not conversation.solved_at:
        return False
    site = _site_settings(conversation.site_key)
    survey, close_after = int(site.survey_window), int(site.close_after)
    return start(settings.csat_arn, f"csat-{conversation.id}-{_stamp_ms(conversation.solved_at)}",
                 {"conversation_id": conversation.id, "solved_at": conversation.solved_at,
                  "survey_window": survey, "close_wait": max(0, close_after - survey)})


def release_handoff(conversation: Conversation) -> None:
    """The conversation left the queue: resume the handoff flow waiting on it, and forget its token.

    Called after the change is written and re-read, so a token stored before it is seen here; one
    stored after it fails its `status = queued` condition and its task resumes the flow itself.
    """
    token = conversation.task_token
    if not token or conversation.status == "queued":
        return
    send_success(token, {"status": conversation.status, "assignee_id": conversation.assignee_id})
    # A failed condition: another release got there first. A throttle is raised: the caller's retry releases
    # it again (a used token is refused, harmlessly).
    update_if(conversation, [Conversation.task_token.remove()], Conversation.task_token == token)
