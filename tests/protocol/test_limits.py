"""The limits against the real local stack, as an attacker on one machine meets them (docs/protocol.md §14).

A stack of its own, with the limits at their documented defaults (the shared stack multiplies them,
since every test's sessions come from 127.0.0.1). Each test uses its own site or account, so the
counters one test fills do not decide another's (new conversations on demo-b, sessions on demo-prechat,
sign-ins of quick@).
"""
import asyncio
import json

import pytest

from tests.conftest import running_stack
from tests.protocol.client import Clients, scenario_timeout, start


@pytest.fixture(scope="module")
def strict(tmp_path_factory):
    with running_stack(tmp_path_factory.mktemp("strict-stack"), PARLEY_RATE_LIMIT_SCALE="1") as local:
        yield local


def _post(stack, path: str, body: dict, timeout: float = 15) -> tuple[int, dict, dict]:
    status, headers, answer = stack.raw("POST", path, json.dumps(body).encode(),
                                        {"Content-Type": "application/json"}, timeout)
    return status, json.loads(answer if status < 300 else answer or b"{}"), headers


def test_the_61st_session_from_one_address_in_ten_minutes_is_429(strict):
    statuses = [_post(strict, "/v1/visitor/sessions", {"site_key": "demo-prechat"})[0] for _ in range(60)]
    status, body, headers = _post(strict, "/v1/visitor/sessions", {"site_key": "demo-prechat"})
    assert statuses == [201] * 60
    assert status == 429 and body["error"]["code"] == "rate_limited"
    assert 0 < body["error"]["retry_after"] <= 600 and int(headers["Retry-After"]) >= 1
    assert _post(strict, "/v1/visitor/sessions", {"site_key": "demo-b"})[0] == 201  # another site's count


def test_wrong_passwords_lock_the_account_then_even_the_right_one_waits(strict):
    login = {"email": "quick@example.com", "password": "wrong-password"}
    statuses = [_post(strict, "/v1/agents/login", login)[0] for _ in range(10)]
    status, body, _ = _post(strict, "/v1/agents/login", {**login, "password": "demo-password"})
    assert statuses == [401] * 10
    assert status == 429 and body["error"]["retry_after"] > 0


async def test_the_11th_new_conversation_from_one_address_is_refused_and_reaches_no_agent(strict):
    agent_login = strict.agent("agent-b@example.com")

    async with scenario_timeout(90), Clients(strict) as clients:
        agent = await clients.agent(agent_login)
        await agent.ack("presence", status="away")  # away: chats wait, and every one is an inbox event
        for i in range(10):
            visitor = await clients.visitor("demo-b", name=f"v{i}")
            await start(visitor, text=f"hello {i}")
        late = await clients.visitor("demo-b", name="late")
        error = await late.error("start", text="one too many")
        assert error["code"] == "rate_limited" and error["retry_after"] > 0
        await agent.assert_no_event("inbox", within=1.0, where=lambda e: e["conversation"]["visitor"]["id"]
                                    == late.visitor_id)
        seen = {e["conversation"]["visitor"]["id"] for e in agent.matching("inbox")}
        assert late.visitor_id not in seen and len(seen) == 10
        for page in await _unassigned(clients, agent_login):
            await clients.rest("PATCH", f"/v1/conversations/{page['id']}", {"status": "solved"},
                               token=agent_login["token"])


async def _unassigned(clients, login) -> list[dict]:
    status, body = await clients.rest("GET", "/v1/conversations?view=unassigned&limit=100", token=login["token"])
    assert status == 200, body
    return body["items"]


async def _chat(clients, agent_login):
    """A demo visitor's new conversation, with the agent's socket on it."""
    visitor = await clients.visitor("demo")
    cid = (await start(visitor, text="hi"))["id"]
    agent = await clients.agent(agent_login)
    await agent.ack("join", conversation_id=cid)
    return visitor, agent, cid


async def test_a_typing_flood_is_cut_and_every_refused_frame_is_answered(strict):
    agent_login = strict.agent("agent@example.com")

    async with scenario_timeout(90), Clients(strict) as clients:
        visitor, agent, cid = await _chat(clients, agent_login)
        refs = [await visitor.send_frame("typing", conversation_id=cid, state="on", preview="x" * 4000)
                for _ in range(60)]
        loop = asyncio.get_running_loop()
        deadline = loop.time() + 30
        while loop.time() < deadline:  # each frame is either delivered or refused, in its own time
            refused = [f for f in visitor.frames if f.get("type") == "error" and f.get("ref") in refs]
            delivered = agent.matching("typing", conversation_id=cid)
            if len(delivered) + len(refused) >= 60:
                break
            await asyncio.sleep(0.2)
        await visitor.ping()
        assert {f["code"] for f in refused} == {"rate_limited"}
        # a fixed window of 20 per 10 s: a slow run may cross one edge, never more in a few seconds
        assert 20 <= len(delivered) <= 40 and len(delivered) + len(refused) == 60


@pytest.mark.timeout(240)
async def test_250_agent_sends_in_flight_end_in_acks_and_refusals_and_the_stack_keeps_answering(strict):
    agent_login = strict.agent("agent@example.com")

    async with scenario_timeout(200), Clients(strict) as clients:
        _, agent, cid = await _chat(clients, agent_login)
        began = asyncio.get_running_loop().time()
        refs = [await agent.send_frame("send", conversation_id=cid, client_msg_id=f"pile-{i}", text=f"#{i}")
                for i in range(250)]
        # while they race, a new visitor still gets a session, a socket and an answer
        session = await asyncio.to_thread(_post, strict, "/v1/visitor/sessions", {"site_key": "demo"}, 90)
        newcomer = await clients.visitor("demo", name="newcomer", session=session[1])
        await newcomer.ping(timeout=90)
        replies = await asyncio.gather(*(agent.reply(ref, timeout=90) for ref in refs))
        acked = [r for r in replies if r["type"] == "ack"]
        refused = [r for r in replies if r["type"] == "error" and r["code"] == "rate_limited"]
        assert len(acked) + len(refused) == 250, [r for r in replies if r not in acked + refused][:3]
        lasted = asyncio.get_running_loop().time() - began
        # the agents' flood limit: 30 in any 10 s, however long the stack took to answer them all
        assert 1 <= len(acked) <= 30 * (lasted // 10 + 1), (len(acked), lasted)
        history = await agent.ack("history", conversation_id=cid, after_seq=1, limit=100)
        assert [m["seq"] for m in history["messages"]] == list(range(2, 2 + len(acked)))
