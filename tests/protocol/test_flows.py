"""The flows on the local stack: moto's ASL interpreter runs infra/statemachines/, its Lambda task
runs in the stack's process, the webhook queue is consumed. Site `demo-quick` waits seconds."""
import asyncio

from client import Clients, scenario_timeout, start

from tests.fakes import WebhookReceiver


async def test_a_chat_nobody_takes_alerts_the_team_and_tells_the_visitor_about_email(stack, logins):
    hook = WebhookReceiver(default=204)
    admin = stack.agent("quick@example.com")["token"]  # admin of the demo-quick workspace (never online)
    status, body = stack.request("PATCH", "/v1/sites/demo-quick", {"webhook_url": hook.url}, token=admin)
    assert status == 200, body
    try:
        async with scenario_timeout(), Clients(stack) as clients:
            visitor = await clients.visitor("demo-quick", name="Nobody-home", email="nh@example.com")
            conversation = await start(visitor, text="Hello? Anyone?")
            assert conversation["status"] == "queued"  # its only agent is offline
            await visitor.next_event("queue", conversation_id=conversation["id"])
            told = await visitor.next_event("message", conversation_id=conversation["id"], timeout=15)
            assert told["message"]["author"]["kind"] == "system"
            assert "by email at nh@example.com" in told["message"]["text"]
            for _ in range(100):
                if hook.posts:
                    break
                await asyncio.sleep(0.1)
            assert hook.posts and hook.posts[0]["json"]["conversation_id"] == conversation["id"]
            status, got = stack.request("GET", f"/v1/conversations/{conversation['id']}", token=admin)
            assert got["conversation"]["missed"] is True and got["conversation"]["status"] == "queued"
    finally:
        stack.request("PATCH", "/v1/sites/demo-quick", {"webhook_url": None}, token=admin)
        hook.close()
