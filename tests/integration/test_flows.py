"""The Step Functions flows end to end: the real ASL files on moto's interpreter, their Lambda task
run in-process through app.py's `flow_task`, waits of about a second from the site's settings."""
import json
import time

import pytest

from chalicelib.aws import stepfunctions
from chalicelib.chat import conversations, notices
from chalicelib.config import settings
from chalicelib.edges import flow_tasks
from chalicelib.store.models import Agent, Conversation, Message, Visitor, Workspace
from tests.integration.flows_env import handoff_name

# --- handoff --------------------------------------------------------------------------------

def test_handoff_assigns_at_once_when_an_agent_is_free(flows_env, monkeypatch):
    env = flows_env
    monkeypatch.setattr(settings, "handoff_arn", "")
    _, cid = env.chat()  # queued with nobody online, and no flow yet
    monkeypatch.setattr(settings, "handoff_arn", env.arns["handoff"])
    agent_id = env.world.agent()
    Agent(agent_id).update(actions=[Agent.status.set("online")])  # free, and nothing drained the queue
    name = handoff_name(cid)
    assert stepfunctions.start_handoff(Conversation.get(cid))
    done = env.finished("handoff", name)
    assert done["status"] == "SUCCEEDED" and done["output"]["route"] == {"queued": False}
    conversation = Conversation.get(cid)
    assert conversation.status == "open" and conversation.assignee_id == agent_id
    assert conversation.task_token is None


def test_handoff_waits_for_an_agent_and_an_assignment_resumes_it(flows_env):
    env = flows_env
    visitor, cid = env.chat()
    assert Conversation.get(cid).status == "queued"
    queue = env.world.api.of(visitor.connection_id, "queue")
    assert queue and queue[-1]["position"] == 1
    name = handoff_name(cid)
    env.until(lambda: Conversation.get(cid).task_token)  # the flow waits on its task token
    started = time.monotonic()
    agent = env.world.online_agent()  # coming online drains the queue: assignment sends task success
    done = env.finished("handoff", name)
    assert done["status"] == "SUCCEEDED" and time.monotonic() - started < 4  # well before the 5 s timeout
    assert done["output"]["agent"]["assignee_id"] == agent.id
    conversation = Conversation.get(cid)
    assert conversation.status == "open" and conversation.assignee_id == agent.id
    assert conversation.task_token is None and not conversation.missed
    assert len(env.world.api.of(visitor.connection_id, "queue")) == 1  # the flow did not announce twice


def test_handoff_timeout_alerts_the_team_tells_the_visitor_and_keeps_the_chat_answerable(flows_env):
    env = flows_env
    env.site(queue_timeout=1)
    env.webhook.statuses = [500]  # the first post fails: SQS delivers it again
    visitor, cid = env.chat(text="Is my order shipped?")
    done = env.finished("handoff", handoff_name(cid))
    assert done["status"] == "SUCCEEDED" and done["output"]["missed"] == {"missed": True}

    conversation = Conversation.get(cid)
    assert conversation.status == "queued" and conversation.missed and conversation.missed_at
    assert conversation.task_token is None
    assert Workspace.get("ws_a").missed_chats == 1
    texts = [m["message"]["text"] for m in env.world.api.of(visitor.connection_id, "message")]
    assert texts == [notices.text("missed_without_email", None)]
    stored = list(Message.query(cid))
    assert stored[-1].author_kind == "system" and stored[-1].text == notices.text("missed_without_email", None)

    assert env.pump_webhooks() == 0 and env.webhook.delivered() == []  # 500: left on the queue
    assert env.pump_webhooks() == 1
    (post,) = env.webhook.delivered()
    assert post["event"] == "missed_chat" and post["conversation_id"] == cid
    assert "Is my order shipped?" in post["text"] and "text" in post

    # answerable later: an agent takes it from the queue and replies
    agent = env.world.online_agent()
    conversation = Conversation.get(cid)
    assert conversation.status == "open" and conversation.assignee_id == agent.id
    ack = env.frame(agent, action="send", conversation_id=cid, text="Sorry for the wait! It shipped.")
    assert ack["type"] == "ack" and ack["message"]["seq"] == 4  # after the missed notice and the joined one
    assert conversations.serialize(Conversation.get(cid))["missed"] is True


def test_handoff_timeout_with_a_known_email_says_where_the_answer_goes(flows_env):
    env = flows_env
    env.site(queue_timeout=1, webhook_url=None)
    visitor, cid = env.chat(env.world.visitor_session(email="dana@example.com"))
    assert env.finished("handoff", handoff_name(cid))["status"] == "SUCCEEDED"
    texts = [m["message"]["text"] for m in env.world.api.of(visitor.connection_id, "message")]
    assert texts == [notices.text("missed_with_email", None, email="dana@example.com")]
    assert env.pump_webhooks() == 0  # no webhook configured: nothing queued


# --- inactivity -----------------------------------------------------------------------------

def test_inactivity_sets_pending_then_auto_solves_without_a_survey(flows_env):
    env = flows_env
    agent = env.world.online_agent()
    visitor, cid = env.chat()
    assert Conversation.get(cid).assignee_id == agent.id
    ack = env.frame(agent, action="send", conversation_id=cid, text="Could you send your order number?")
    seq = ack["message"]["seq"]
    done = env.finished("inactivity", f"inactivity-{cid}-{seq}")
    assert done["status"] == "SUCCEEDED"
    assert done["output"]["check"]["step"] == {"next": "done", "solved": True}

    conversation = Conversation.get(cid)
    assert conversation.status == "solved" and conversation.auto_solved is True
    assert Agent.get(agent.id).active_chats == 0  # the slot was freed
    messages = list(Message.query(cid))
    assert [(m.author_kind, m.notice) for m in messages] == [
        ("visitor", None), ("system", "joined"), ("agent", None), ("system", "still_there"), ("system", "solved_auto")]
    assert messages[-2].text == notices.text("still_there", None)
    # Both sides read that it was solved, and by no one: the visitor's widget and the console's thread.
    assert messages[-1].text == notices.text("solved_auto", None)
    heard = [f["message"].get("notice") for f in env.world.api.of(visitor.connection_id, "message")]
    assert heard[-1] == "solved_auto"
    statuses = [f["conversation"]["status"] for f in env.world.api.of(visitor.connection_id, "conversation")]
    assert statuses == ["open", "pending", "solved"]  # assigned, then the flow's two steps
    assert env.executions("csat") == []  # auto-solved: no survey
    assert env.world.api.of(visitor.connection_id, "csat_request") == []


def test_one_watch_covers_a_stretch_of_replies_and_ends_when_the_visitor_answers(flows_env):
    env = flows_env
    env.site(inactivity_wait=2)
    agent = env.world.online_agent()
    visitor, cid = env.chat()
    first = env.frame(agent, action="send", conversation_id=cid, text="One moment")["message"]["seq"]
    env.frame(agent, action="send", conversation_id=cid, text="Found it: anything else?")
    env.frame(visitor, action="send", conversation_id=cid, text="No, thanks!")  # the customer replied
    done = env.finished("inactivity", f"inactivity-{cid}-{first}")
    assert done["status"] == "SUCCEEDED" and done["output"]["check"]["step"] == {"next": "done"}
    assert len(env.executions("inactivity")) == 1  # the second reply found the watch alive
    conversation = Conversation.get(cid)
    assert conversation.status == "open" and not conversation.auto_solved
    assert conversation.inactivity_until is None  # released: the next agent reply starts a new watch
    assert [m.author_kind for m in Message.query(cid)] == ["visitor", "system", "agent", "agent", "visitor"]
    later = env.frame(agent, action="send", conversation_id=cid, text="Bye!")["message"]["seq"]
    assert env.finished("inactivity", f"inactivity-{cid}-{later}")["status"] == "SUCCEEDED"
    assert Conversation.get(cid).status == "solved"


def test_the_watch_re_arms_for_a_later_reply_and_counts_from_it(flows_env):
    env = flows_env
    env.site(inactivity_wait=2, pending_wait=1)
    agent = env.world.online_agent()
    visitor, cid = env.chat()
    first = env.frame(agent, action="send", conversation_id=cid, text="Checking...")["message"]["seq"]
    time.sleep(1.2)
    last = env.frame(agent, action="send", conversation_id=cid, text="Could you send your order number?")
    done = env.finished("inactivity", f"inactivity-{cid}-{first}", timeout=15)
    assert done["status"] == "SUCCEEDED" and done["output"]["check"]["step"] == {"next": "done", "solved": True}
    assert len(env.executions("inactivity")) == 1
    messages = list(Message.query(cid))
    assert [m.notice or m.author_kind for m in messages] == [
        "visitor", "joined", "agent", "agent", "still_there", "solved_auto"]
    reminded_after = (stepfunctions._stamp_ms(messages[-2].created_at)
                      - stepfunctions._stamp_ms(last["message"]["created_at"])) / 1000
    assert reminded_after >= 2  # counted from the newest reply, not from the first
    assert Conversation.get(cid).auto_solved is True


def test_a_retried_start_with_the_same_name_runs_once(flows_env):
    env = flows_env
    agent = env.world.online_agent()
    _, cid = env.chat()
    seq = env.frame(agent, action="send", conversation_id=cid, text="Hi!")["message"]["seq"]
    conversation = Conversation.get(cid)
    stepfunctions.start_inactivity(conversation, seq)  # a retry while it runs: the same execution
    assert len(env.executions("inactivity")) == 1
    assert env.finished("inactivity", f"inactivity-{cid}-{seq}")["status"] == "SUCCEEDED"
    assert stepfunctions.start_inactivity(conversation, seq) is False  # a retry after it ended
    assert len(env.executions("inactivity")) == 1
    assert [m.notice for m in Message.query(cid)].count("still_there") == 1


# --- csat and closing -----------------------------------------------------------------------

def test_csat_asks_in_chat_accepts_one_rating_then_closes_and_the_next_chat_is_linked(flows_env):
    env = flows_env
    agent = env.world.online_agent()
    session = env.world.visitor_session()
    visitor, cid = env.chat(session)
    env.frame(agent, action="set_status", conversation_id=cid, status="solved")
    solved_at = Conversation.get(cid).solved_at
    name = f"csat-{cid}-{stepfunctions._stamp_ms(solved_at)}"

    env.until(lambda: env.world.api.of(visitor.connection_id, "csat_request"))
    assert env.world.api.of(visitor.connection_id, "csat_request") == [{"type": "csat_request", "conversation_id": cid}]
    rated = env.frame(visitor, action="rate", conversation_id=cid, rating=5, comment="quick!")
    assert rated["csat"] == {"rating": 5, "comment": "quick!"}
    # issue 13, defect 6: the agent sees the rating without a reload (the conversation event, and the inbox)
    assert {"rating": 5, "comment": "quick!"} in [f["conversation"].get("csat")
                                                   for f in env.world.api.of(agent.connection_id, "conversation")]
    assert {"rating": 5, "comment": "quick!"} in [f["conversation"].get("csat")
                                                   for f in env.world.api.of(agent.connection_id, "inbox")]
    again = env.frame(visitor, action="rate", conversation_id=cid, rating=1)
    assert again["type"] == "error" and again["code"] == "conflict"

    done = env.finished("csat", name)
    assert done["status"] == "SUCCEEDED" and done["output"]["asked"] == {"channel": "chat"}
    assert done["output"]["closed"] == {"closed": True}
    conversation = Conversation.get(cid)
    assert conversation.status == "closed" and conversation.csat.as_dict()["rating"] == 5
    assert env.world.api.of(visitor.connection_id, "conversation")[-1]["conversation"]["status"] == "closed"
    visitor_record = Visitor.get(visitor.id)
    assert visitor_record.active_conversation_id is None and visitor_record.last_closed_conversation_id == cid

    refused = env.frame(visitor, action="send", conversation_id=cid, text="one more thing")
    assert refused["type"] == "error" and refused["code"] == "conflict"
    _, new_cid = env.chat(session, text="one more thing")
    assert new_cid != cid
    new = Conversation.get(new_cid)
    assert new.previous_conversation_id == cid
    assert conversations.serialize(new)["previous_conversation_id"] == cid


def test_a_reopened_conversation_is_not_closed_by_the_earlier_solve(flows_env):
    env = flows_env
    env.site(survey_window=1, close_after=1)
    agent = env.world.online_agent()
    visitor, cid = env.chat()
    env.frame(agent, action="set_status", conversation_id=cid, status="solved")
    name = f"csat-{cid}-{stepfunctions._stamp_ms(Conversation.get(cid).solved_at)}"
    env.frame(visitor, action="send", conversation_id=cid, text="Actually, one more question")
    assert Conversation.get(cid).status == "open"  # reopened to the same agent
    done = env.finished("csat", name)
    assert done["output"]["closed"] == {"closed": False}
    assert Conversation.get(cid).status == "open"


def test_csat_goes_by_email_when_the_visitor_has_left(flows_env):
    env = flows_env
    agent = env.world.online_agent()
    visitor, cid = env.chat(env.world.visitor_session(email="dana@example.com"))
    env.world.api.drop(visitor.connection_id)  # the tab is gone; API Gateway answers 410
    env.frame(agent, action="set_status", conversation_id=cid, status="solved")
    name = f"csat-{cid}-{stepfunctions._stamp_ms(Conversation.get(cid).solved_at)}"
    done = env.finished("csat", name)
    assert done["output"]["asked"] == {"channel": "email"}
    got = env.sqs.receive_message(QueueUrl=settings.email_queue_url, MaxNumberOfMessages=10)["Messages"]
    (body,) = [json.loads(m["Body"]) for m in got]
    assert body["kind"] == "csat" and body["conversation_id"] == cid


def test_flows_are_off_without_their_state_machines(flows_env, monkeypatch):
    env = flows_env
    for name in ("handoff_arn", "inactivity_arn", "csat_arn"):
        monkeypatch.setattr(settings, name, "")
    agent = env.world.online_agent(capacity=1)
    _, cid = env.chat()
    env.frame(agent, action="send", conversation_id=cid, text="Hi")
    env.frame(agent, action="set_status", conversation_id=cid, status="solved")
    env.chat()  # queued: nobody free
    assert all(env.executions(flow) == [] for flow in env.arns)


def test_an_unknown_task_action_fails_the_step(flows_env):
    with pytest.raises(Exception):
        flow_tasks.run_task({"action": "nope"}, flows_env.world.sender)
