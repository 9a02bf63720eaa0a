"""Routing over the wire: automatic assignment, the queue and its events, transfers, blocking."""
import asyncio

from client import Clients, open_socket, scenario_timeout, start
from websockets.exceptions import InvalidStatus


async def test_a_new_conversation_is_assigned_to_the_online_agent_at_once(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        agent = await clients.agent(logins["agent"])
        await agent.ack("presence", status="online")
        visitor = await clients.visitor(name="routed")
        conversation = await start(visitor, text="Is anyone there?")
        assigned = conversation if conversation["status"] == "open" else \
            (await visitor.next_event("conversation", conversation_id=None,
                                      where=lambda e: e["conversation"]["status"] == "open"))["conversation"]
        assert assigned["assignee_id"] == agent.agent_id
        inbox = await agent.next_event("inbox", where=lambda e: e["conversation"]["id"] == conversation["id"]
                                       and e["conversation"]["assignee_id"] == agent.agent_id)
        assert inbox["conversation"]["status"] == "open"
        # the agent's socket was put on the conversation: the visitor's next message arrives unasked
        await visitor.ack("send", conversation_id=conversation["id"], client_msg_id="r1", text="hello?")
        await agent.next_event("message", conversation_id=conversation["id"],
                               where=lambda e: e["message"]["text"] == "hello?")


async def test_a_full_agent_leaves_visitors_in_a_queue_that_drains_when_a_slot_frees(stack, logins):
    agent_id = logins["agent"]["agent"]["id"]
    admin_token = logins["admin"]["token"]
    status, _ = stack.request("PATCH", f"/v1/agents/{agent_id}", {"capacity": 1}, token=admin_token)
    assert status == 200

    try:
        async with scenario_timeout(), Clients(stack) as clients:
            agent = await clients.agent(logins["agent"])
            await agent.ack("presence", status="online")
            first = await clients.visitor(name="first")
            held = await start(first, text="one")
            second = await clients.visitor(name="second")
            waiting = await start(second, text="two")
            assert waiting["status"] == "queued"
            queue = await second.next_event("queue", conversation_id=waiting["id"])
            assert queue["position"] == 1 and queue["eta_seconds"] > 0
            await agent.ack("set_status", conversation_id=held["id"], status="solved")
            opened = await second.next_event("conversation", conversation_id=None,
                                             where=lambda e: e["conversation"]["id"] == waiting["id"]
                                             and e["conversation"]["status"] == "open")
            assert opened["conversation"]["assignee_id"] == agent.agent_id
    finally:
        stack.request("PATCH", f"/v1/agents/{agent_id}", {"capacity": 3}, token=admin_token)


def test_capacity_over_the_wire_only_admins_change_it(stack, logins):
    agent_id = logins["agent"]["agent"]["id"]
    status, body = stack.request("PATCH", f"/v1/agents/{agent_id}", {"capacity": 10}, token=logins["agent"]["token"])
    assert status == 403 and body["error"]["code"] == "forbidden"
    status, body = stack.request("PATCH", f"/v1/agents/{agent_id}", {"capacity": 11}, token=logins["admin"]["token"])
    assert status == 400 and body["error"]["field"] == "capacity"


async def test_a_transfer_to_a_colleague_moves_the_slot_and_tells_everyone(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        agent = await clients.agent(logins["agent"])
        admin = await clients.agent(logins["admin"], name="admin")
        visitor = await clients.visitor(name="transferred")
        conversation = await start(visitor, text="I need a manager")
        await agent.ack("accept", conversation_id=conversation["id"])
        reply = await agent.ack("transfer", conversation_id=conversation["id"],
                                to_agent_id=admin.agent_id, note="asked for a manager")
        assert reply["conversation"]["assignee_id"] == admin.agent_id
        system = await visitor.next_event("message", conversation_id=conversation["id"],
                                          where=lambda e: e["message"].get("notice") == "transferred")
        assert system["message"]["text"] == "Alex Agent transferred this conversation to Ada Admin."
        await visitor.assert_no_event("message", within=0.5, conversation_id=conversation["id"],
                                      where=lambda e: e["message"]["internal"])
        status, team = await clients.rest("GET", "/v1/agents", token=logins["admin"]["token"])
        slots = {a["id"]: a["active_chats"] for a in team["items"]}
        assert slots[admin.agent_id] >= 1


async def test_a_blocked_visitor_is_cut_off_and_refused(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor(name="spammer")
        await start(visitor, text="buy my stuff")
        status, body = await clients.rest("POST", f"/v1/contacts/{visitor.visitor_id}/block", {},
                                          token=logins["agent"]["token"])
        assert status == 200 and body["blocked"] is True
        await asyncio.wait_for(visitor._reader, 5)  # the server closed the socket
        assert visitor.closed
        try:
            await open_socket(stack.ws, visitor.session["token"])
            raise AssertionError("a blocked visitor's socket opened")
        except InvalidStatus as exc:
            assert exc.response.status_code == 403
        status, _ = await clients.rest("DELETE", f"/v1/contacts/{visitor.visitor_id}/block",
                                       token=logins["agent"]["token"])
        assert status == 200
        again = await open_socket(stack.ws, visitor.session["token"])
        await again.close()
