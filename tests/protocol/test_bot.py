"""The bot over the real websocket and the real state machines (docs/bot.md; docs/protocol.md §4 `start`,
`choose`, §12, §13.6): what a widget and a console see of it.

A stack of its own, whose `demo` site runs the demo flow (infra/local/demo_bot.json) against the stack's fake
shop (infra/local/shop.py) and whose bot watch (infra/statemachines/bot.asl.json on moto) waits seconds. The
idle wait is longer than the lookup's 3 s limit: a turn that waits on the shop must not find its conversation
assumed solved under it. tests/integration/test_bot.py covers the engine's rules on moto without sockets.
"""
import asyncio
import json
import time

import jwt
import pytest
from client import Clients, rest_messages, scenario_timeout, send, start
from websockets.sync.client import connect

from infra.local import shop
from tests.conftest import running_stack

IDLE_WAIT, FINAL_WAIT = 5, 3  # PARLEY_BOT_IDLE_WAIT, PARLEY_BOT_FINAL_WAIT: seconds instead of 30 min and 24 h
GREETING = "Hi! How can we help?"  # the seeded sites' greeting
NOBODY = "Nobody is online right now: leave a message and we will answer by email."
MENU = ["order", "shipping", "sales", "support", "human"]  # the demo menu, and the way to a person
PERSON = "Let me find you a person."  # the engine's words when the visitor asks for one
SALES, SUPPORT = "I am passing you to our Sales team.", "I am passing you to our Support team."
NOT_FOUND = "I could not find that order. Let me pass you to our support team."


DEMO = shop.flow(0)["nodes"]  # the demo flow's nodes (the lookup's address aside, as installed)


def node_text(node: str) -> str:
    """A node's English text in the demo flow."""
    return DEMO[node]["text"]["en"]


def order_text(number: str) -> str:
    order = shop.ORDERS[number]
    return f"Order {number}: {order['status']}. {order['detail']}"


@pytest.fixture(scope="module")
def bot_stack(tmp_path_factory):
    """The stack, the demo flow installed on `demo` as its admin, Alex in Support and Ada in Sales."""
    with running_stack(tmp_path_factory.mktemp("bot-stack"), PARLEY_BOT_IDLE_WAIT=str(IDLE_WAIT),
                       PARLEY_BOT_FINAL_WAIT=str(FINAL_WAIT)) as local:
        local.logins = {"alex": local.agent("agent@example.com"), "ada": local.agent("admin@example.com")}
        admin = local.logins["ada"]["token"]
        status, saved = local.request("PUT", "/v1/sites/demo/bot", shop.flow(local.port), token=admin)
        assert status == 200 and saved["version"] == 1 and saved["enabled"] is True, saved
        for name, groups in (("alex", ["support"]), ("ada", ["sales"])):
            status, agent = local.request("PATCH", f"/v1/agents/{local.logins[name]['agent']['id']}",
                                          {"groups": groups}, token=admin)
            assert status == 200 and agent["groups"] == groups, agent
        yield local


@pytest.fixture(autouse=True)
def quiet_workspaces(bot_stack):
    """This module's stack left as the next test expects it (the shared stack's fixture of the same name,
    tests/protocol/conftest.py, is not needed here): both agents away, nothing waiting or holding a slot."""
    yield
    for login in bot_stack.logins.values():
        with connect(f"{bot_stack.ws}?token={login['token']}", open_timeout=5) as ws:
            ws.send(json.dumps({"action": "presence", "status": "away", "ref": "quiet"}))
            while json.loads(ws.recv(timeout=5)).get("ref") != "quiet":
                pass
    admin = bot_stack.logins["ada"]["token"]
    for view in ("unassigned", "open", "pending"):
        status, page = bot_stack.request("GET", f"/v1/conversations?view={view}&limit=100", token=admin)
        assert status == 200, page
        for conversation in page["items"]:
            bot_stack.request("PATCH", f"/v1/conversations/{conversation['id']}", {"status": "solved"}, token=admin)


# --- helpers ------------------------------------------------------------------------------------

def texts(messages: list[dict]) -> list[str]:
    return [m["text"] for m in messages]


def option_ids(message: dict) -> list[str]:
    return [o["id"] for o in message.get("options") or []]


async def opened(clients: Clients, name: str = "visitor", **session) -> tuple:
    """A new visitor whose `start` opened a bot conversation: (socket, conversation, the bot's opening)."""
    visitor = await clients.visitor(name=name, **session)
    ack = await visitor.ack("start")
    assert ack["conversation"]["status"] == "bot", ack
    return visitor, ack["conversation"], ack["messages"]


async def write(visitor, conversation_id: str, text: str) -> list[dict]:
    """`send` in a conversation the bot holds: the bot's replies, stored in the same write (read back with
    `history` after the visitor's message), each of which also reached this socket as a `message` event."""
    message = await send(visitor, conversation_id, text)
    page = await visitor.ack("history", conversation_id=conversation_id, after_seq=message["seq"])
    for reply in page["messages"]:
        await visitor.next_event("message", conversation_id=conversation_id,
                                 where=lambda e, r=reply: e["message"]["id"] == r["id"])
    return page["messages"]


async def choose(visitor, conversation_id: str, option_id: str, **fields) -> dict:
    """`choose` that must be acked: the bot's replies came as `message` events before the ack (this socket too)."""
    ack = await visitor.ack("choose", conversation_id=conversation_id, option_id=option_id, **fields)
    assert ack["duplicate"] is False, ack
    events = [f["message"]["id"] for f in visitor.frames[:visitor.frames.index(ack)]
              if f.get("type") == "message" and f["conversation_id"] == conversation_id]
    for reply in ack["messages"]:
        assert reply["id"] in events, f"bot reply {reply['text']!r} was not a message event before the ack"
    return ack


async def conversation(clients: Clients, token: str, conversation_id: str) -> dict:
    status, body = await clients.rest("GET", f"/v1/conversations/{conversation_id}", token=token)
    assert status == 200, body
    return body["conversation"]


async def until(clients: Clients, token: str, conversation_id: str, ready, within: float, what: str) -> dict:
    """Poll the conversation (as an agent) until `ready(conversation)`; fail past `within` seconds."""
    deadline = time.monotonic() + within
    while True:
        got = await conversation(clients, token, conversation_id)
        if ready(got):
            return got
        if time.monotonic() > deadline:
            raise AssertionError(f"{conversation_id}: not {what} within {within}s: {got}")
        await asyncio.sleep(0.2)


def inbox_of(agent, conversation_id: str, status: str) -> list[dict]:
    return agent.matching("inbox", where=lambda e: e["conversation"]["id"] == conversation_id
                          and e["conversation"]["status"] == status)


# --- start ----------------------------------------------------------------------------------------

async def test_start_on_a_bot_site_opens_with_the_greeting_the_welcome_and_the_menu(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        status, settings = await clients.rest("GET", "/v1/sites/demo/settings")
        assert status == 200 and settings["bot"] == {"enabled": True, "name": "Assistant"}, settings
        first, convo, opening = await opened(clients, name="first")
        assert texts(opening) == [f"{GREETING} {NOBODY}", node_text("welcome"), node_text("menu")]
        assert [m["seq"] for m in opening] == [1, 2, 3] and {m["author"]["kind"] for m in opening} == {"bot"}
        assert opening[-1]["author"] == {"kind": "bot", "id": "bot", "name": "Assistant"}
        assert option_ids(opening[-1]) == MENU and opening[-1]["options"][-1]["label"] == "Talk to a person"
        assert convo["last_seq"] == 3 and convo["assignee_id"] is None
        await first.assert_no_event("message", within=0.3)  # this socket learns of the opening from the ack

        alex = await clients.agent(bot_stack.logins["alex"], name="alex")
        await alex.ack("presence", status="online")
        status, available = await clients.rest("GET", "/v1/sites/demo/availability")
        assert status == 200 and available["agents"] == ["Alex"], available
        greeted = f"{GREETING} Alex is online and can answer you now."
        assert available["greeting"] == greeted
        _, held, opening = await opened(clients, name="second")
        assert opening[0]["text"] == greeted  # the bot's greeting names the online agent, as the route does
        assert held["status"] == "bot" and held["assignee_id"] is None  # nobody routes it while the bot holds it
        await alex.assert_no_event("inbox", within=0.5, where=lambda e: e["conversation"]["id"] == held["id"])


async def test_every_tab_of_a_visitor_gets_the_opening_and_every_bot_reply(bot_stack):
    """Two tabs starting at the same moment share one conversation, opened once; the tab whose start did
    not make the opening has it all the same (its ack, or events). Several visitors at once: the race is
    narrow."""
    wanted = [f"{GREETING} {NOBODY}", node_text("welcome"), node_text("menu")]

    async def both_start(clients, n: int) -> tuple:
        one = await clients.visitor(name=f"one-{n}")
        two = await clients.visitor(session=one.session, name=f"two-{n}")
        acks = await asyncio.gather(one.request("start"), two.request("start"))
        assert [a["type"] for a in acks] == ["ack", "ack"], acks
        cid = acks[0]["conversation"]["id"]
        assert acks[1]["conversation"]["id"] == cid  # one conversation for both tabs
        for tab, ack in ((one, acks[0]), (two, acks[1])):
            got = ack["messages"] or [
                (await tab.next_event("message", conversation_id=cid, timeout=3,
                                      where=lambda e, t=t: e["message"]["text"] == t))["message"] for t in wanted]
            assert texts(got) == wanted, (tab.name, ack)
        stored = await rest_messages(clients, bot_stack.logins["ada"]["token"], cid)
        assert texts(stored) == wanted  # made once
        return one, two, cid

    async with scenario_timeout(), Clients(bot_stack) as clients:
        pairs = await asyncio.gather(*(both_start(clients, n) for n in range(6)))
        one, two, cid = pairs[0]
        ack = await choose(one, cid, "order")
        assert ack["message"]["text"] == "Where is my order?" and ack["message"]["author"]["kind"] == "visitor"
        choice = await two.next_event("message", conversation_id=cid, where=lambda e: e["message"]["seq"] == 4)
        question = await two.next_event("message", conversation_id=cid, where=lambda e: e["message"]["seq"] == 5)
        assert choice["message"]["id"] == ack["message"]["id"]
        assert question["message"]["id"] == ack["messages"][0]["id"]
        assert question["message"]["ask"] == {"field": "order_number", "type": "text", "required": True}


# --- the flow's nodes -------------------------------------------------------------------------------

async def test_an_order_number_is_checked_then_looked_up_at_the_shop(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        ack = await choose(visitor, cid, "order")
        assert ack["conversation"]["status"] == "bot" and ack["conversation"]["last_seq"] == 5
        assert texts(ack["messages"]) == ["What is your order number? (4 to 8 digits, e.g. 1234)"]
        assert ack["messages"][0]["ask"] == {"field": "order_number", "type": "text", "required": True}

        refused = await write(visitor, cid, "12")
        assert texts(refused) == ["An order number is 4 to 8 digits, like 1234.", ack["messages"][0]["text"]]
        assert refused[1]["ask"]["field"] == "order_number"
        looked_up = await write(visitor, cid, "1234")
        assert texts(looked_up) == [order_text("1234"), node_text("menu")]  # the shop's answer, then the menu
        assert option_ids(looked_up[-1]) == MENU
        got = await conversation(clients, bot_stack.logins["ada"]["token"], cid)
        assert got["status"] == "bot" and got["fields"] == {"order_number": "1234"} and "bot" not in got


async def test_free_text_at_the_menu_gets_articles_and_no_brings_the_menu_back(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        found = await write(visitor, cid, "how long does shipping take")
        assert texts(found) == ["This may answer your question:", "Did this solve it?"]
        titles = [a["title"] for a in found[0]["articles"]]
        assert titles[0] == "Shipping times" and len(titles) <= 3, titles  # the seeded shop's knowledge base
        assert all(a["id"].startswith("a_") and a["snippet"] for a in found[0]["articles"])
        assert option_ids(found[1]) == ["yes", "no", "human"]
        ack = await choose(visitor, cid, "no")
        assert ack["message"]["text"] == "No"
        assert texts(ack["messages"]) == ["You can choose one of these, or talk to a person."]
        assert option_ids(ack["messages"][0]) == MENU  # the question they wrote instead of answering, again
        assert ack["conversation"]["status"] == "bot"


async def test_an_order_the_shop_does_not_know_goes_to_support_and_an_agent_accepts_it(bot_stack):
    logins = bot_stack.logins
    async with scenario_timeout(), Clients(bot_stack) as clients:
        alex = await clients.agent(logins["alex"], name="alex")
        await alex.ack("presence", status="away")  # nobody online: the handoff waits in Support's queue
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        await choose(visitor, cid, "order")
        replies = await write(visitor, cid, "4321")
        assert texts(replies) == [NOT_FOUND, SUPPORT]
        handed = await visitor.next_event("conversation", where=lambda e: e["conversation"]["id"] == cid)
        assert handed["conversation"]["status"] == "queued" and handed["conversation"]["group"] == "support"
        await alex.next_event("inbox", where=lambda e: e["conversation"]["id"] == cid
                              and e["conversation"]["status"] == "queued")
        got = await conversation(clients, logins["ada"]["token"], cid)
        assert got["bot"]["outcome"] == "handed_off" and got["bot"]["final"] is True
        assert got["bot"]["handoff_reason"] == "flow"  # the flow's own fallback is a handoff node
        assert got["fields"] == {"order_number": "4321"}

        accepted = await alex.ack("accept", conversation_id=cid)
        assert accepted["conversation"]["assignee_id"] == alex.agent_id
        answer = await send(alex, cid, "Let me check that order for you.")
        got = await visitor.next_event("message", conversation_id=cid, where=lambda e: e["message"]["id"] == answer["id"])
        assert got["message"]["author"]["kind"] == "agent"
        thanks = await send(visitor, cid, "Thanks, it is 4321")
        await alex.next_event("message", conversation_id=cid, where=lambda e: e["message"]["id"] == thanks["id"])
        await visitor.assert_no_event("message", within=0.8, conversation_id=cid,
                                      where=lambda e: e["message"]["seq"] > thanks["seq"]
                                      and e["message"]["author"]["kind"] == "bot")


async def test_a_shop_slower_than_the_lookups_limit_fails_over_within_seconds(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        await choose(visitor, cid, "order")
        began = time.monotonic()
        message = await send(visitor, cid, "9999")  # the shop sleeps 5 s on it
        elapsed = time.monotonic() - began
        assert 2.9 <= elapsed < 4.5, f"the turn took {elapsed:.1f}s: the lookup must give up at 3 s"
        page = await visitor.ack("history", conversation_id=cid, after_seq=message["seq"])
        assert texts(page["messages"]) == [NOT_FOUND, SUPPORT]
        got = await conversation(clients, bot_stack.logins["ada"]["token"], cid)
        assert (got["status"], got["group"], got["bot"]["outcome"]) == ("queued", "support", "handed_off")


# --- handoff, exactly once ----------------------------------------------------------------------

async def test_tabs_choosing_a_person_at_the_same_moment_hand_off_exactly_once(bot_stack):
    logins = bot_stack.logins
    async with scenario_timeout(), Clients(bot_stack) as clients:
        alex = await clients.agent(logins["alex"], name="alex")
        ada = await clients.agent(logins["ada"], name="ada")
        for agent in (alex, ada):
            await agent.ack("presence", status="online")
        first, convo, _ = await opened(clients, name="tab0")
        cid = convo["id"]
        tabs = [first] + [await clients.visitor(session=first.session, name=f"tab{i}") for i in range(1, 6)]
        for tab in tabs[1:]:
            assert (await start(tab))["id"] == cid
        # Three tabs retry one choice (one client_msg_id); three make choices of their own.
        plan = [("sales", "same"), ("sales", "same"), ("sales", "same"),
                ("sales", "own-3"), ("human", "own-4"), ("human", "own-5")]
        refs = await asyncio.gather(*(tab.send_frame("choose", conversation_id=cid, option_id=option, client_msg_id=cmid)
                                      for tab, (option, cmid) in zip(tabs, plan, strict=True)))
        replies = await asyncio.gather(*(tab.reply(ref, timeout=15) for tab, ref in zip(tabs, refs, strict=True)))

        made = [i for i, r in enumerate(replies) if r["type"] == "ack" and r["duplicate"] is False]
        assert len(made) == 1, replies
        winner = made[0]
        option, cmid = plan[winner]
        won = replies[winner]
        for i, reply in enumerate(replies):
            if i == winner:
                continue
            if reply["type"] == "ack":  # the same choice, retried from another tab: the first answer
                assert reply["duplicate"] is True and plan[i][1] == cmid, (i, reply)
                assert reply["message"]["id"] == won["message"]["id"] and reply["messages"] == [], reply
            else:  # no bot question open any more: never a second handoff
                assert (reply["code"], reply.get("field")) == ("not_found", "option_id"), (i, reply)
        retried = await tabs[winner].ack("choose", conversation_id=cid, option_id=option, client_msg_id=cmid)
        assert retried["duplicate"] is True and retried["message"]["id"] == won["message"]["id"], retried

        goes_to, words, reason, label = {
            "sales": (ada, SALES, "flow", "Talk to Sales"),
            "human": (alex, PERSON, "asked", "Talk to a person")}[option]
        assert texts(won["messages"]) == [words] and won["message"]["text"] == label
        for agent in (alex, ada):  # routing took it once; every console heard of it once as new
            await agent.next_event("inbox", where=lambda e: e["conversation"]["id"] == cid
                                   and e["conversation"]["status"] == "open")
        await asyncio.sleep(0.8)  # time for a second handoff to show, if there were one
        for agent in (alex, ada):
            assert len(inbox_of(agent, cid, "queued")) == 1, agent.matching("inbox")
            assert len(inbox_of(agent, cid, "open")) == 1, agent.matching("inbox")
            assert inbox_of(agent, cid, "bot") == []  # agents never hear of it while the bot holds it
        got = await conversation(clients, logins["ada"]["token"], cid)
        assert (got["status"], got["assignee_id"]) == ("open", goes_to.agent_id)
        assert got["group"] == ("sales" if option == "sales" else "support")
        assert (got["bot"]["outcome"], got["bot"]["handoff_reason"]) == ("handed_off", reason)
        stored = await rest_messages(clients, logins["ada"]["token"], cid)
        assert [m["text"] for m in stored if m["text"] in (SALES, PERSON)] == [words]
        assert [m["text"] for m in stored if m["author"]["kind"] == "visitor"] == [label]
        assert len([m for m in stored if m.get("notice") == "joined"]) == 1
        for tab in tabs:
            await tab.ping()


async def test_a_retried_choice_is_the_first_answer_not_a_new_turn(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        first = await choose(visitor, cid, "order", client_msg_id="order-1")
        again = await visitor.ack("choose", conversation_id=cid, option_id="order", client_msg_id="order-1")
        assert again["duplicate"] is True and again["message"]["id"] == first["message"]["id"], again
        stored = await rest_messages(clients, bot_stack.logins["ada"]["token"], cid)
        assert [m["seq"] for m in stored] == [1, 2, 3, 4, 5]  # nothing new stored


# --- after the handoff --------------------------------------------------------------------------

async def test_after_a_handoff_the_bot_is_silent_and_the_groups_agent_answers(bot_stack):
    logins = bot_stack.logins
    async with scenario_timeout(), Clients(bot_stack) as clients:
        alex = await clients.agent(logins["alex"], name="alex")
        await alex.ack("presence", status="online")
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        ack = await choose(visitor, cid, "support")
        assert texts(ack["messages"]) == [SUPPORT]
        routed = await visitor.next_event("conversation", where=lambda e: e["conversation"]["id"] == cid
                                          and e["conversation"]["status"] == "open")
        assert routed["conversation"]["assignee_id"] == alex.agent_id and routed["conversation"]["group"] == "support"
        joined = await visitor.next_event("message", conversation_id=cid,
                                          where=lambda e: e["message"].get("notice") == "joined")
        assert joined["message"]["agent_name"] == "Alex Agent"

        question = await send(visitor, cid, "My parcel is late")
        heard = await alex.next_event("message", conversation_id=cid,
                                      where=lambda e: e["message"]["id"] == question["id"])
        assert heard["message"]["author"]["kind"] == "visitor"
        await visitor.assert_no_event("message", within=1.0, conversation_id=cid,
                                      where=lambda e: e["message"]["seq"] > question["seq"]
                                      and e["message"]["author"]["kind"] == "bot")
        page = await visitor.ack("history", conversation_id=cid, after_seq=question["seq"])
        assert page["messages"] == []  # the bot stored nothing after it
        answer = await send(alex, cid, "Sorry about that, let me look.")
        await visitor.next_event("message", conversation_id=cid, where=lambda e: e["message"]["id"] == answer["id"])
        error = await visitor.error("choose", conversation_id=cid, option_id="order")
        assert (error["code"], error["field"]) == ("not_found", "option_id")
        await visitor.ping()


# --- outcomes on the real bot watch -------------------------------------------------------------

async def test_yes_to_an_article_confirms_the_bot(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        ack = await choose(visitor, cid, "shipping")
        assert texts(ack["messages"]) == [node_text("faq"), "Did this solve it?"]
        assert ack["messages"][0]["articles"] and option_ids(ack["messages"][1]) == ["yes", "no"]
        ack = await choose(visitor, cid, "yes")
        assert texts(ack["messages"]) == [node_text("bye")]
        assert (ack["conversation"]["status"], ack["conversation"]["resolution"]) == ("solved", "bot"), ack
        solved = await visitor.next_event("conversation", where=lambda e: e["conversation"]["id"] == cid)
        assert solved["conversation"]["status"] == "solved" and solved["conversation"]["bot"]["outcome"] == "confirmed"
        got = await conversation(clients, bot_stack.logins["ada"]["token"], cid)
        assert (got["status"], got["resolution"], got["auto_solved"]) == ("solved", "bot", True)
        assert got["bot"]["outcome"] == "confirmed" and got["bot"]["final"] is True


async def test_quiet_conversations_are_assumed_solved_reverted_by_a_return_final_after(bot_stack):
    """Conversations side by side on the real bot watch: one the visitor comes back to within the final
    wait, one they leave for good, one whose first words came with `start`, one they never answered."""
    token = bot_stack.logins["ada"]["token"]

    def assumed(got: dict) -> bool:
        return got.get("bot", {}).get("outcome") == "assumed"

    async def comes_back(clients):
        visitor, convo, _ = await opened(clients, name="returns")
        cid = convo["id"]
        await choose(visitor, cid, "order")
        began = time.monotonic()
        got = await until(clients, token, cid, assumed, IDLE_WAIT + 8, "assumed")
        assert time.monotonic() - began >= IDLE_WAIT - 1  # not before the idle wait
        assert (got["status"], got["resolution"], got["bot"]["final"]) == ("solved", "bot", False)
        told = await visitor.next_event("conversation", where=lambda e: e["conversation"]["id"] == cid
                                        and e["conversation"]["status"] == "solved")
        assert told["conversation"]["bot"]["outcome"] == "assumed"
        replies = await write(visitor, cid, "2345")  # back within the final wait: the bot goes on
        assert texts(replies) == [order_text("2345"), node_text("menu")]
        got = await conversation(clients, token, cid)
        assert got["status"] == "bot" and "bot" not in got and got["solved_at"] is None, got
        assert "resolution" not in got

    async def leaves(clients):
        visitor, convo, _ = await opened(clients, name="leaves")
        cid = convo["id"]
        await choose(visitor, cid, "order")
        got = await until(clients, token, cid, assumed, IDLE_WAIT + 8, "assumed")
        assert got["bot"]["final"] is False
        began = time.monotonic()
        got = await until(clients, token, cid, lambda c: c["bot"]["final"] is True, FINAL_WAIT + 8, "final")
        assert time.monotonic() - began >= FINAL_WAIT - 1.5
        assert (got["status"], got["bot"]["outcome"]) == ("solved", "assumed")

    async def writes_first(clients):  # its first words came with `start`: the bot answered them
        visitor = await clients.visitor(name="writes-first")
        ack = await visitor.ack("start", text="how long does shipping take")
        cid = ack["conversation"]["id"]
        assert ack["message"]["text"] == "how long does shipping take"
        assert texts(ack["messages"])[-2:] == ["This may answer your question:", "Did this solve it?"]
        got = await until(clients, token, cid, lambda c: c["status"] != "bot", IDLE_WAIT + 8, "left by the bot")
        assert (got["status"], got.get("bot", {}).get("outcome")) == ("solved", "assumed"), got

    async def never_answers(clients):
        _, convo, _ = await opened(clients, name="silent")
        got = await until(clients, token, convo["id"], lambda c: c["status"] == "closed", IDLE_WAIT + 8, "closed")
        assert "bot" not in got and "resolution" not in got  # no outcome, not counted

    async with scenario_timeout(60), Clients(bot_stack) as clients:
        await asyncio.gather(comes_back(clients), leaves(clients), writes_first(clients), never_answers(clients))


# --- what is refused ------------------------------------------------------------------------------

async def test_a_forged_or_another_sites_preview_ticket_is_refused(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        status, issued = await clients.rest("POST", "/v1/sites/demo/bot/preview", {},
                                            token=bot_stack.logins["ada"]["token"])
        assert status == 201 and issued["version"] == 1 and issued["expires_in"] == 1800, issued
        ticket = issued["ticket"]
        claims = jwt.decode(ticket, options={"verify_signature": False})
        forged = jwt.encode({**claims, "v": 1}, "not-the-servers-secret-0123456789abcdef", algorithm="HS256")
        head, body, signature = ticket.split(".")
        tampered = ".".join((head, body, ("A" if signature[0] != "A" else "B") + signature[1:]))
        for site_key, given in (("demo", forged), ("demo", tampered), ("demo", "not-a-ticket"),
                                ("demo-prechat", ticket), ("demo-b", ticket)):
            status, body = await clients.rest("POST", "/v1/visitor/sessions", {"site_key": site_key, "preview": given})
            assert status == 401, (site_key, given, body)
            assert (body["error"]["code"], body["error"]["field"]) == ("unauthorized", "preview"), body
        session = await clients.session("demo", preview=ticket)  # the real one, on its own site
        previewer = await clients.visitor(session=session, name="previewer")
        started = (await previewer.ack("start"))["conversation"]
        assert started["status"] == "bot" and started["preview"] is True


async def test_a_bad_choose_is_refused_and_the_socket_stays_open(bot_stack):
    async with scenario_timeout(), Clients(bot_stack) as clients:
        visitor, convo, _ = await opened(clients)
        cid = convo["id"]
        _, theirs, _ = await opened(clients, name="someone-else")
        error = await visitor.error("choose", conversation_id=theirs["id"], option_id="order")
        assert error["code"] == "not_found", error
        await visitor.ping()
        for bad in ("x" * 65, "x" * 5000, 5, None, ["order"], {"id": "order"}, "", "   "):
            error = await visitor.error("choose", conversation_id=cid, option_id=bad)
            assert (error["code"], error.get("field")) == ("bad_request", "option_id"), (bad, error)
            await visitor.ping()
        error = await visitor.error("choose", conversation_id=cid, option_id="refund")  # not on the menu
        assert (error["code"], error["field"]) == ("not_found", "option_id"), error
        await visitor.ping()
        error = await visitor.error("choose", conversation_id=cid)
        assert (error["code"], error["field"]) == ("bad_request", "option_id"), error
        ack = await choose(visitor, cid, "order")  # none of it moved the conversation
        assert ack["message"]["seq"] == 4 and ack["messages"][0]["ask"]["field"] == "order_number"
