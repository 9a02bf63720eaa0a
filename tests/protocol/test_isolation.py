"""Other workspaces see nothing of a workspace in their lists and live events.

What a visitor or an agent gets from every action and route on a conversation that is not theirs is the
authorization matrix's (test_authz.py)."""
from client import Clients, scenario_timeout, send, start


async def test_other_workspace_list_does_not_show_the_conversation(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor, text="hello"))["id"]
        for view in ("all", "unassigned"):
            seen, cursor = [], None
            for _ in range(50):
                path = f"/v1/conversations?view={view}&limit=100" + (f"&cursor={cursor}" if cursor else "")
                status, body = await clients.rest("GET", path, token=logins["b"]["token"])
                assert status == 200, body
                seen += body["items"]
                cursor = body["next_cursor"]
                if not cursor:
                    break
            assert cid not in {c["id"] for c in seen}, view
            assert all(c["site_key"] == "demo-b" for c in seen), view


async def test_other_workspace_agents_get_no_inbox_event(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        agent_b = await clients.agent(logins["b"], name="agent-b")
        await agent_b.ack("presence", status="online")
        agent = await clients.agent(logins["agent"])
        await agent.ack("presence", status="online")
        visitor = await clients.visitor()
        cid = (await start(visitor))["id"]
        await agent.next_event("inbox", where=lambda e: e["conversation"]["id"] == cid)
        await agent_b.assert_no_event("inbox", within=0.5, where=lambda e: e["conversation"]["id"] == cid)
        assert all(e["conversation"]["site_key"] == "demo-b" for e in agent_b.matching("inbox"))
        await send(visitor, cid, "anyone?")
        await agent_b.assert_no_event("message", within=0.3)
