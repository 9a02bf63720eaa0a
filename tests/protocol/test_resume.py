"""Reconnecting loses nothing; a repeated client_msg_id stores nothing new."""
import asyncio

from client import Clients, rest_messages, scenario_timeout, send, start


async def test_resume_after_reconnect_loses_nothing(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor(name="first-socket")
        session = visitor.session
        cid = (await start(visitor))["id"]
        await send(visitor, cid, "one")
        last_seen = (await send(visitor, cid, "two"))["seq"]
        assert last_seen == 2

        agent = await clients.agent(logins["agent"])
        await agent.ack("join", conversation_id=cid)
        await visitor.close()
        await asyncio.sleep(0.3)  # let the gateway run $disconnect: the agent writes while the visitor is away

        missed = [await send(agent, cid, f"while you were away {i}") for i in range(3)]
        assert [m["seq"] for m in missed] == [3, 4, 5]

        resumed = await clients.session("demo", resume_token=session["token"])
        assert resumed["visitor_id"] == session["visitor_id"]
        assert resumed["token"]
        again = await clients.visitor(name="second-socket", session=resumed)
        conversation = await start(again)
        assert conversation["id"] == cid
        assert conversation["last_seq"] == 5

        history = await again.ack("history", conversation_id=cid, after_seq=last_seen)
        assert [m["id"] for m in history["messages"]] == [m["id"] for m in missed]
        assert [m["seq"] for m in history["messages"]] == [3, 4, 5]
        assert [m["text"] for m in history["messages"]] == [f"while you were away {i}" for i in range(3)]
        assert history["has_more"] is False

        live = await send(agent, cid, "welcome back")
        event = await again.next_event("message", conversation_id=cid)
        assert event["message"]["id"] == live["id"]
        assert event["message"]["seq"] == 6
        assert not visitor.matching("message", where=lambda e: e["message"]["seq"] >= 3)


async def test_returning_visitor_is_subscribed_on_connect_without_start(stack, logins):
    """The new socket of a visitor with an active conversation gets its events before any frame."""
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor, text="hello"))["id"]
        agent = await clients.agent(logins["agent"])
        await agent.ack("join", conversation_id=cid)
        await visitor.close()
        await asyncio.sleep(0.3)

        resumed = await clients.session("demo", resume_token=visitor.session["token"])
        assert resumed["visitor_id"] == visitor.visitor_id
        again = await clients.visitor(name="returning", session=resumed)
        await again.ping()  # the socket is up and served
        live = await send(agent, cid, "are you still there?")
        event = await again.next_event("message", conversation_id=cid)
        assert event["message"]["id"] == live["id"]


async def test_history_pages_are_contiguous_in_seq_order(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor))["id"]
        sent = [await send(visitor, cid, f"m{i}") for i in range(7)]
        assert [m["seq"] for m in sent] == list(range(1, 8))
        pages, after = [], 0
        while True:
            page = await visitor.ack("history", conversation_id=cid, after_seq=after, limit=3)
            pages.append([m["seq"] for m in page["messages"]])
            if not page["has_more"]:
                break
            after = page["messages"][-1]["seq"]
            assert len(pages) < 10
        assert pages == [[1, 2, 3], [4, 5, 6], [7]]
        latest = await visitor.ack("history", conversation_id=cid, limit=2)
        assert [m["seq"] for m in latest["messages"]] == [6, 7]
        assert latest["has_more"] is True
        before = await visitor.ack("history", conversation_id=cid, before_seq=3)
        assert [m["seq"] for m in before["messages"]] == [1, 2]


async def test_duplicate_client_msg_id_returns_the_first_message(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor))["id"]
        agent = await clients.agent(logins["agent"])
        await agent.ack("join", conversation_id=cid)

        first = await visitor.ack("send", conversation_id=cid, client_msg_id="dup-1", text="only once")
        assert first["duplicate"] is False
        second = await visitor.ack("send", conversation_id=cid, client_msg_id="dup-1", text="only once")
        assert second["duplicate"] is True
        assert second["message"]["id"] == first["message"]["id"]
        assert second["message"]["seq"] == first["message"]["seq"]
        # Even with another text, a retry is the same message.
        third = await visitor.ack("send", conversation_id=cid, client_msg_id="dup-1", text="changed")
        assert third["duplicate"] is True and third["message"]["id"] == first["message"]["id"]
        assert third["message"]["text"] == "only once"

        history = await visitor.ack("history", conversation_id=cid)
        assert [m["client_msg_id"] for m in history["messages"] if m.get("client_msg_id")] == ["dup-1"]
        assert len(history["messages"]) == 1

        await agent.next_event("message", conversation_id=cid)
        await agent.assert_no_event("message", within=0.8, conversation_id=cid)
        assert len(agent.matching("message", conversation_id=cid)) == 1

        stored = await rest_messages(clients, logins["agent"]["token"], cid)
        assert [m["id"] for m in stored] == [first["message"]["id"]]


async def test_concurrent_retries_of_one_client_msg_id_store_one_message(stack, logins):
    """A client retrying before the first ack arrives (both frames in flight) still gets one message."""
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor))["id"]
        refs = [await visitor.send_frame("send", conversation_id=cid, client_msg_id="race-1", text="racing")
                for _ in range(4)]
        replies = await asyncio.gather(*(visitor.reply(ref) for ref in refs))
        assert all(r["type"] == "ack" for r in replies), replies
        assert len({r["message"]["id"] for r in replies}) == 1, replies
        assert sorted(r["duplicate"] for r in replies) == [False, True, True, True]
        stored = await rest_messages(clients, logins["agent"]["token"], cid)
        assert len(stored) == 1
