"""The flows on the local stack: moto's ASL interpreter runs infra/statemachines/, its Lambda task
runs in the stack's process, the webhook queue is consumed. Site `demo-quick` waits seconds."""
import asyncio
import http.server
import json
import threading

from client import Clients, run, start


def test_a_chat_nobody_takes_alerts_the_team_and_tells_the_visitor_about_email(stack, logins):
    posts = []

    class Hook(http.server.BaseHTTPRequestHandler):
        def do_POST(self):  # noqa: N802
            posts.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_address[1]}/hook"
    admin = stack.agent("quick@example.com")["token"]  # admin of the demo-quick workspace (never online)
    status, body = stack.request("PATCH", "/v1/sites/demo-quick", {"webhook_url": url}, token=admin)
    assert status == 200, body
    try:
        async def scenario():
            async with Clients(stack) as clients:
                visitor = await clients.visitor("demo-quick", name="Nobody-home", email="nh@example.com")
                conversation = await start(visitor, text="Hello? Anyone?")
                assert conversation["status"] == "queued"  # its only agent is offline
                await visitor.next_event("queue", conversation_id=conversation["id"])
                told = await visitor.next_event("message", conversation_id=conversation["id"], timeout=15)
                assert told["message"]["author"]["kind"] == "system"
                assert "by email at nh@example.com" in told["message"]["text"]
                for _ in range(100):
                    if posts:
                        break
                    await asyncio.sleep(0.1)
                assert posts and posts[0]["conversation_id"] == conversation["id"]
                status, got = stack.request("GET", f"/v1/conversations/{conversation['id']}", token=admin)
                assert got["conversation"]["missed"] is True and got["conversation"]["status"] == "queued"
        run(scenario())
    finally:
        stack.request("PATCH", "/v1/sites/demo-quick", {"webhook_url": None}, token=admin)
        server.shutdown()
