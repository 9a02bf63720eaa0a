"""Two-way chat between a visitor and an agent over the real websocket gateway."""
from client import Clients, rest_messages, scenario_timeout, send, start


async def test_start_without_text_creates_a_queued_conversation(stack):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        conversation = await start(visitor)
        assert conversation["status"] == "queued"
        assert conversation["visitor"]["id"] == visitor.visitor_id
        assert conversation["site_key"] == "demo"
        assert conversation["last_seq"] == 0
        assert conversation["assignee_id"] is None
        again = await start(visitor)  # the active conversation comes back, no second one
        assert again["id"] == conversation["id"]


async def test_start_with_text_stores_the_first_message(stack):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        conversation = await start(visitor, text="  Hello, is anyone there?  ")
        assert conversation["last_seq"] == 1
        history = await visitor.ack("history", conversation_id=conversation["id"])
        assert [m["seq"] for m in history["messages"]] == [1]
        first = history["messages"][0]
        assert first["text"] == "Hello, is anyone there?"
        assert first["author"]["kind"] == "visitor"
        assert first["author"]["id"] == visitor.visitor_id
        assert first["internal"] is False


async def test_online_agent_sees_inbox_event_for_a_new_conversation(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        agent = await clients.agent(logins["agent"])
        presence = await agent.ack("presence", status="online")
        assert presence.get("status") == "online"
        visitor = await clients.visitor()
        conversation = await start(visitor, text="I need help")
        inbox = await agent.next_event("inbox", where=lambda e: e["conversation"]["id"] == conversation["id"])
        assert inbox["conversation"]["status"] == "queued"
        assert inbox["conversation"]["visitor"]["id"] == visitor.visitor_id


async def test_two_way_chat_accept_send_reply(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        agent = await clients.agent(logins["agent"])
        await agent.ack("presence", status="online")
        visitor = await clients.visitor(name="Vera")
        conversation = await start(visitor)
        cid = conversation["id"]

        accepted = await agent.ack("accept", conversation_id=cid)
        assert accepted["conversation"]["status"] == "open"
        assert accepted["conversation"]["assignee_id"] == agent.agent_id
        change = await visitor.next_event("conversation", where=lambda e: e["conversation"]["id"] == cid
                                          and e["conversation"]["status"] == "open")
        assert change["conversation"]["assignee_id"] == agent.agent_id
        joined = await visitor.next_event("message", conversation_id=cid)  # the visitor is told, first
        assert joined["message"]["notice"] == "joined" and joined["message"]["seq"] == 1
        assert joined["message"]["author"]["kind"] == "system"

        try:
            ack = await visitor.ack("send", conversation_id=cid, client_msg_id="cm-hello", text="Hi there")
            message = ack["message"]
            assert ack.get("duplicate") is False
            assert message["seq"] == 2
            assert message["conversation_id"] == cid
            assert message["author"]["kind"] == "visitor"
            assert message["author"]["id"] == visitor.visitor_id
            assert message["client_msg_id"] == "cm-hello"
            assert message["text"] == "Hi there"
            assert message["internal"] is False
            assert message["id"] and message["created_at"].endswith("Z")

            # Stored before the ack: REST sees it now.
            stored = await rest_messages(clients, logins["agent"]["token"], cid)
            assert [m["id"] for m in stored] == [joined["message"]["id"], message["id"]]

            event = await agent.next_event("message", conversation_id=cid, where=lambda e: not e["message"].get("notice"))
            assert event["message"]["id"] == message["id"]
            assert event["message"]["seq"] == 2

            reply = await send(agent, cid, "Hello Vera, how can I help?")
            assert reply["seq"] == 3
            assert reply["author"]["kind"] == "agent"
            assert reply["author"]["id"] == agent.agent_id
            got = await visitor.next_event("message", conversation_id=cid)
            assert got["message"]["id"] == reply["id"]
            assert got["message"]["text"] == "Hello Vera, how can I help?"
            assert got["message"]["author"]["kind"] == "agent"
            # The sender gets its ack, not an echo of its own message.
            await agent.assert_no_event("message", within=0.3, where=lambda e: e["message"]["id"] == reply["id"])
        finally:
            await agent.request("set_status", conversation_id=cid, status="solved")  # free the slot


async def test_messages_are_stored_before_the_ack(stack, logins):
    """Every acked send is visible through REST the moment the ack arrives."""
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor))["id"]
        for i in range(3):
            message = await send(visitor, cid, f"message {i}")
            status, body = await clients.rest("GET", f"/v1/conversations/{cid}/messages?after_seq="
                                              f"{message['seq'] - 1}", token=logins["agent"]["token"])
            assert status == 200, body
            assert [m["id"] for m in body["messages"]] == [message["id"]]


async def test_accept_of_a_colleagues_conversation_is_conflict(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor, text="help"))["id"]
        agent = await clients.agent(logins["agent"])
        admin = await clients.agent(logins["admin"], name="admin")
        await agent.ack("accept", conversation_id=cid)
        try:
            error = await admin.error("accept", conversation_id=cid)
            assert error["code"] == "conflict", error
            again = await agent.ack("accept", conversation_id=cid)  # accepting your own again is fine
            assert again["conversation"]["assignee_id"] == agent.agent_id
            # A colleague may still join and write (helping, supervising).
            await admin.ack("join", conversation_id=cid)
            await send(admin, cid, "a colleague here")
            said = await visitor.next_event("message", conversation_id=cid,
                                            where=lambda e: e["message"]["author"]["kind"] == "agent")
            assert said["message"]["author"]["id"] == admin.agent_id
        finally:
            await agent.request("set_status", conversation_id=cid, status="solved")


async def test_accept_beyond_capacity_is_refused(stack, logins):
    """admin@ has 3 slots: a 4th accepted conversation is `capacity`."""
    async with scenario_timeout(), Clients(stack) as clients:
        admin = await clients.agent(logins["admin"], name="admin")
        accepted, refused = [], None
        try:
            for i in range(4):
                visitor = await clients.visitor(name=f"cap-{i}")
                cid = (await start(visitor))["id"]
                frame = await admin.request("accept", conversation_id=cid)
                if frame["type"] == "ack":
                    accepted.append(cid)
                    continue
                refused = frame
                break
            assert refused is not None, "four conversations accepted with 3 slots"
            assert refused["code"] == "capacity", refused
            assert len(accepted) <= 3
            status, body = await clients.rest("GET", f"/v1/conversations/{cid}", token=logins["admin"]["token"])
            assert body["conversation"]["status"] == "queued" and body["conversation"]["assignee_id"] is None
        finally:
            for done in accepted:  # free the slots for the rest of the session
                await admin.request("set_status", conversation_id=done, status="solved")
        if accepted:  # a solved conversation frees its slot
            visitor = await clients.visitor(name="cap-after")
            cid = (await start(visitor))["id"]
            ack = await admin.ack("accept", conversation_id=cid)
            await admin.request("set_status", conversation_id=cid, status="solved")
            assert ack["conversation"]["status"] == "open"


async def test_visitor_reply_reopens_a_solved_conversation_to_the_same_agent(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor, text="my order"))["id"]
        agent = await clients.agent(logins["agent"])
        await agent.ack("accept", conversation_id=cid)
        try:
            solved = await agent.ack("set_status", conversation_id=cid, status="solved")
            assert solved["conversation"]["status"] == "solved" and solved["conversation"]["solved_at"]
            await visitor.next_event("conversation", where=lambda e: e["conversation"]["status"] == "solved")
            assert (await start(visitor))["id"] == cid, "a solved conversation is still the active one"
            await send(visitor, cid, "one more question")
            reopened = await agent.next_event("conversation", where=lambda e: e["conversation"]["id"] == cid
                                              and e["conversation"]["status"] == "open")
            assert reopened["conversation"]["assignee_id"] == agent.agent_id
        finally:
            await agent.request("set_status", conversation_id=cid, status="solved")


async def test_rating_is_recorded_once(stack):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor, text="thanks"))["id"]
        for rating in (0, 6, "great", None, 4.5):
            error = await visitor.error("rate", conversation_id=cid, rating=rating)
            assert error["code"] == "bad_request" and error.get("field") == "rating", (rating, error)
        ack = await visitor.ack("rate", conversation_id=cid, rating=5, comment="great")
        assert ack["csat"]["rating"] == 5
        error = await visitor.error("rate", conversation_id=cid, rating=1)
        assert error["code"] == "conflict", error
