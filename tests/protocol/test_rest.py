"""The REST API agents and widgets use: health, availability, inbox views with cursors, PATCH."""
import base64
import json

import pytest
import pytest_asyncio
from client import Clients, scenario_timeout, send, start


def _raw(stack, method: str, path: str, data: bytes, token: str) -> tuple[int, dict]:
    status, _, answer = stack.raw(method, path, data,
                                  {"Content-Type": "application/json", "Authorization": f"Bearer {token}"})
    return status, json.loads(answer or b"{}")


async def _page_all(clients: Clients, token: str, view: str, limit: int) -> list[dict]:
    """Every item of a view, following next_cursor."""
    items, cursor = [], None
    for _ in range(1000):
        path = f"/v1/conversations?view={view}&limit={limit}" + (f"&cursor={cursor}" if cursor else "")
        status, body = await clients.rest("GET", path, token=token)
        assert status == 200, (path, status, body)
        assert len(body["items"]) <= limit
        items += body["items"]
        cursor = body.get("next_cursor")
        if not cursor:
            return items
    raise AssertionError("paging did not end")


def test_health(stack):
    status, body = stack.request("GET", "/v1/health")
    assert (status, body) == (200, {"ok": True})


async def test_availability_follows_agent_presence(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        agent = await clients.agent(logins["agent"])
        admin = await clients.agent(logins["admin"], name="admin")
        await agent.ack("presence", status="offline")
        await admin.ack("presence", status="away")
        status, body = await clients.rest("GET", "/v1/sites/demo/availability")
        assert status == 200, body
        assert body["online"] is False and body["agents_online"] == 0, body
        assert "open_now" in body and "eta_seconds" in body

        await agent.ack("presence", status="online")
        status, body = await clients.rest("GET", "/v1/sites/demo/availability")
        assert body["online"] is True and body["agents_online"] == 1, body
        assert isinstance(body["eta_seconds"], int), body

        # Another workspace's site is not affected.
        status, other = await clients.rest("GET", "/v1/sites/demo-b/availability")
        assert status == 200 and other["agents_online"] in (0, 1), other

        status, body = await clients.rest("GET", "/v1/sites/no-such-site/availability")
        assert status in (401, 404), body
        assert body["error"]["code"] in ("unauthorized", "not_found")


@pytest_asyncio.fixture(scope="module", loop_scope="module")
async def three_conversations(stack, logins):
    """c1, c2, c3 started in that order, then a message in c1; agent@ accepted c1. Newest activity: c1, c3, c2."""
    async with scenario_timeout(), Clients(stack) as clients:
        ids = []
        for i in range(3):
            visitor = await clients.visitor(name=f"lister-{i}")
            ids.append((await start(visitor, text=f"conversation {i}"))["id"])
            if i == 0:
                first = visitor
        agent = await clients.agent(logins["agent"])
        await agent.ack("accept", conversation_id=ids[0])
        await send(first, ids[0], "one more thing")
    yield ids
    async with scenario_timeout(), Clients(stack) as clients:  # c1's slot back
        agent = await clients.agent(logins["agent"])
        await agent.request("set_status", conversation_id=ids[0], status="solved")


async def test_view_all_pages_newest_activity_first(stack, logins, three_conversations):
    c1, c2, c3 = three_conversations
    token = logins["agent"]["token"]

    async with scenario_timeout(60), Clients(stack) as clients:
        one_by_one = await _page_all(clients, token, "all", 1)
        ids = [c["id"] for c in one_by_one]
        assert len(ids) == len(set(ids)), "an item came twice while paging"
        assert {c1, c2, c3} <= set(ids)
        assert ids.index(c1) < ids.index(c3) < ids.index(c2)
        assert ids[0] == c1, "the conversation with the newest message comes first"
        assert all(c["site_key"] in ("demo", "demo-prechat", "demo-bot", "demo-bot-console")
                   for c in one_by_one)  # the workspace's sites
        big = await _page_all(clients, token, "all", 100)
        assert [c["id"] for c in big] == ids


@pytest.mark.parametrize("view", ["unassigned", "mine", "open"])
async def test_views_page_with_limit_1(stack, logins, three_conversations, view):
    c1, c2, c3 = three_conversations
    token, me = logins["agent"]["token"], logins["agent"]["agent"]["id"]

    async with scenario_timeout(60), Clients(stack) as clients:
        items = await _page_all(clients, token, view, 1)
        ids = [c["id"] for c in items]
        assert len(ids) == len(set(ids))
        if view == "unassigned":
            assert all(c["status"] == "queued" for c in items)
            assert {c2, c3} <= set(ids) and c1 not in ids
            assert ids.index(c3) < ids.index(c2)
        elif view == "mine":
            assert all(c["assignee_id"] == me and c["status"] in ("open", "pending") for c in items), items
            assert c1 in ids and c2 not in ids
        else:
            assert all(c["status"] == "open" for c in items)
            assert c1 in ids and c2 not in ids
        assert [c["id"] for c in await _page_all(clients, token, view, 100)] == ids


def test_tampered_cursor_is_400(stack, logins, three_conversations):
    token = logins["agent"]["token"]
    status, body = stack.request("GET", "/v1/conversations?view=all&limit=1", token=token)
    assert status == 200 and body["next_cursor"], body
    cursor = body["next_cursor"]
    key = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    key["workspace_id"] = {"S": "ws_demo_b"}  # try to read another workspace's inbox
    other_ws = base64.urlsafe_b64encode(json.dumps(key).encode()).decode().rstrip("=")
    flipped = cursor[:-3] + ("xyz" if not cursor.endswith("xyz") else "abc")
    for bad in ("not-a-cursor", flipped, other_ws, "e30"):
        status, answer = stack.request("GET", f"/v1/conversations?view=all&limit=1&cursor={bad}", token=token)
        assert status == 400, (bad, status, answer)
        assert answer["error"]["code"] == "bad_request" and answer["error"].get("field") == "cursor", answer
    # A cursor of one view is not valid for another.
    status, answer = stack.request("GET", f"/v1/conversations?view=unassigned&limit=1&cursor={cursor}", token=token)
    assert status == 400 and answer["error"].get("field") == "cursor", answer
    # Nor for another workspace's agent.
    status, answer = stack.request("GET", f"/v1/conversations?view=all&limit=1&cursor={cursor}",
                                   token=logins["b"]["token"])
    assert status == 400 and answer["error"].get("field") == "cursor", answer


def test_bad_list_parameters_are_400(stack, logins):
    token = logins["agent"]["token"]
    for query, field in (("view=everything", "view"), ("view=", "view"), ("limit=0", "limit"),
                         ("limit=101", "limit"), ("limit=ten", "limit")):
        status, body = stack.request("GET", f"/v1/conversations?{query}", token=token)
        assert status == 400, (query, status, body)
        assert body["error"]["code"] == "bad_request" and body["error"].get("field") == field, (query, body)


async def test_patch_title_tags_and_status(stack, logins):
    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor, text="where is my parcel?"))["id"]
        agent = await clients.agent(logins["agent"])
        await agent.ack("accept", conversation_id=cid)
        await visitor.next_event("conversation", where=lambda e: e["conversation"]["status"] == "open")
        token = logins["agent"]["token"]
        try:
            status, body = await clients.rest("PATCH", f"/v1/conversations/{cid}",
                                              {"title": "  Parcel lost  ", "tags": ["Shipping", " vip ", "shipping"]},
                                              token=token)
            assert status == 200, body
            assert body["conversation"]["title"] == "Parcel lost"
            assert body["conversation"]["tags"] == ["shipping", "vip"]
            change = await visitor.next_event("conversation", where=lambda e: e["conversation"]["title"])
            assert change["conversation"]["title"] == "Parcel lost"
            assert "tags" not in change["conversation"], "tags are agent-side only"

            status, body = await clients.rest("PATCH", f"/v1/conversations/{cid}", {"status": "pending"},
                                              token=token)
            assert status == 200 and body["conversation"]["status"] == "pending", body
            await visitor.next_event("conversation", where=lambda e: e["conversation"]["status"] == "pending")

            status, body = await clients.rest("GET", f"/v1/conversations/{cid}", token=token)
            assert body["conversation"]["title"] == "Parcel lost"
            assert body["conversation"]["tags"] == ["shipping", "vip"]
            assert body["conversation"]["status"] == "pending"

            status, body = await clients.rest("PATCH", f"/v1/conversations/{cid}", {"title": None, "tags": []},
                                              token=token)
            assert status == 200 and body["conversation"]["title"] is None and body["conversation"]["tags"] == []
        finally:
            status, body = await clients.rest("PATCH", f"/v1/conversations/{cid}", {"status": "solved"},
                                              token=token)
            assert status == 200 and body["conversation"]["status"] == "solved", body


BAD_PATCHES = [
    ({"title": 5}, "title"),
    ({"title": "x" * 201}, "title"),
    ({"tags": "billing"}, "tags"),
    ({"tags": [1, 2]}, "tags"),
    ({"tags": [""]}, "tags"),
    ({"tags": ["t"] * 21}, "tags"),
    ({"status": "closed"}, "status"),
    ({"status": "bogus"}, "status"),
    ({"colour": "red"}, "colour"),
    ({"assignee_id": 42}, "assignee_id"),
]


async def test_bad_patch_bodies_are_400_naming_the_field(stack, logins):
    token = logins["agent"]["token"]

    async with scenario_timeout(), Clients(stack) as clients:
        visitor = await clients.visitor()
        cid = (await start(visitor, text="patch me"))["id"]
    for body, field in BAD_PATCHES:
        status, answer = stack.request("PATCH", f"/v1/conversations/{cid}", body, token=token)
        assert status == 400, (body, status, answer)
        assert answer["error"]["code"] == "bad_request", (body, answer)
        assert answer["error"].get("field") == field, (body, answer)
    for raw in (b"[1, 2]", b"{not json", b'"title"'):
        status, answer = _raw(stack, "PATCH", f"/v1/conversations/{cid}", raw, token)
        assert status == 400, (raw, status, answer)
        assert answer["error"]["code"] == "bad_request" and answer["error"].get("field") == "body", (raw, answer)
    # Nothing changed.
    status, answer = stack.request("GET", f"/v1/conversations/{cid}", token=token)
    assert answer["conversation"]["title"] is None and answer["conversation"]["tags"] == []
    assert answer["conversation"]["status"] == "queued"


def test_unknown_conversation_is_404(stack, logins):
    token = logins["agent"]["token"]
    for method, path, body in (("GET", "/v1/conversations/c_nope", None),
                               ("GET", "/v1/conversations/c_nope/messages", None),
                               ("PATCH", "/v1/conversations/c_nope", {"title": "x"})):
        status, answer = stack.request(method, path, body, token=token)
        assert status == 404, (method, path, status, answer)
        assert answer["error"]["code"] == "not_found"
