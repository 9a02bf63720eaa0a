"""Nobody reaches a conversation that is not theirs: other visitors, other workspaces' agents."""
from client import Clients, run, send, start


def test_visitor_cannot_touch_another_visitors_conversation(stack):
    async def scenario():
        async with Clients(stack) as clients:
            alice = await clients.visitor(name="alice")
            cid = (await start(alice, text="alice's secret"))["id"]
            bob = await clients.visitor(name="bob")
            await start(bob)

            for action, fields in (("send", {"client_msg_id": "x1", "text": "intrusion"}),
                                   ("history", {}),
                                   ("typing", {"state": "on", "preview": "peek"}),
                                   ("read", {"seq": 1})):
                error = await bob.error(action, conversation_id=cid, **fields)
                assert error["code"] == "not_found", (action, error)
                assert not bob.closed
                await bob.ping()

            await alice.assert_no_event("typing", within=0.3)
            await alice.assert_no_event("message", within=0.0)
            history = await alice.ack("history", conversation_id=cid)
            assert [m["text"] for m in history["messages"]] == ["alice's secret"]
    run(scenario())


def test_visitor_of_another_site_cannot_touch_the_conversation(stack):
    async def scenario():
        async with Clients(stack) as clients:
            alice = await clients.visitor("demo", name="alice")
            cid = (await start(alice, text="hello"))["id"]
            other = await clients.visitor("demo-b", name="other-site")
            error = await other.error("history", conversation_id=cid)
            assert error["code"] == "not_found"
            error = await other.error("send", conversation_id=cid, client_msg_id="x", text="hi")
            assert error["code"] == "not_found"
            await other.ping()
    run(scenario())


def test_agent_of_another_workspace_cannot_reach_the_conversation(stack, logins):
    async def scenario():
        async with Clients(stack) as clients:
            visitor = await clients.visitor()
            cid = (await start(visitor, text="for demo's agents only"))["id"]
            agent_b = await clients.agent(logins["b"], name="agent-b")
            for action, fields in (("join", {}), ("accept", {}),
                                   ("send", {"client_msg_id": "b1", "text": "hello from elsewhere"}),
                                   ("history", {}), ("set_status", {"status": "solved"})):
                error = await agent_b.error(action, conversation_id=cid, **fields)
                assert error["code"] == "not_found", (action, error)
                await agent_b.ping()
            await visitor.assert_no_event("message", within=0.3)

            token = logins["b"]["token"]
            for method, path, body in (("GET", f"/v1/conversations/{cid}", None),
                                       ("GET", f"/v1/conversations/{cid}/messages", None),
                                       ("PATCH", f"/v1/conversations/{cid}", {"title": "mine now"})):
                status, answer = await clients.rest(method, path, body, token=token)
                assert status == 404, (method, path, status, answer)
                assert answer["error"]["code"] == "not_found"

            # Still untouched for its own workspace.
            status, answer = await clients.rest("GET", f"/v1/conversations/{cid}", token=logins["agent"]["token"])
            assert status == 200, answer
            assert answer["conversation"]["status"] == "queued"
            assert answer["conversation"]["title"] is None
            assert [m["text"] for m in answer["messages"]] == ["for demo's agents only"]
    run(scenario())


def test_other_workspace_list_does_not_show_the_conversation(stack, logins):
    async def scenario():
        async with Clients(stack) as clients:
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
    run(scenario())


def test_other_workspace_agents_get_no_inbox_event(stack, logins):
    async def scenario():
        async with Clients(stack) as clients:
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
    run(scenario())
