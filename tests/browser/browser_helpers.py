"""Small helpers the browser tests share: REST as an agent, real websockets (a visitor's, an agent's), the
console's sign-in and list rows, the widget's demo page, and putting the shared stack back in order."""
import itertools
import json
import threading
import time
import urllib.parse
import urllib.request
import uuid

from playwright.sync_api import expect
from websockets.exceptions import ConnectionClosed
from websockets.sync.client import connect

WAIT = 8.0  # seconds for anything the server or the browser should do "at once"
PASSWORD = "demo-password"
AGENT, ADMIN = "agent@example.com", "admin@example.com"
VIEWPORT = {"width": 1440, "height": 900}


def unique(prefix: str) -> str:
    """A distinctive name, so a test finds its own visitor among the shared stack's others."""
    return f"{prefix} {uuid.uuid4().hex[:6]}"


def eventually(check, timeout: float = WAIT, interval: float = 0.1):
    """Call `check` until it returns a truthy value (returned) or the time is up (AssertionError)."""
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        last = check()
        if last:
            return last
        time.sleep(interval)
    raise AssertionError(f"condition not met within {timeout}s (last value: {last!r})")


class Api:
    """REST as one agent (a real Cognito sign-in)."""

    def __init__(self, stack, email: str, password: str = "demo-password"):
        self.stack = stack
        login = stack.agent(email, password)
        self.token, self.agent = login["token"], login["agent"]

    def call(self, method: str, path: str, body=None) -> dict:
        status, data = self.stack.request(method, path, body, token=self.token)
        assert 200 <= status < 300, (method, path, status, data)
        return data

    def me(self) -> dict:
        return self.call("GET", "/v1/agents/me")["agent"]

    def team(self) -> dict:
        """email -> the agent, as GET /v1/agents tells everyone."""
        return {a["email"]: a for a in self.call("GET", "/v1/agents")["items"]}

    def team_member(self, email: str) -> dict:
        return self.team()[email]

    def conversation(self, conversation_id: str) -> dict:
        return self.call("GET", f"/v1/conversations/{conversation_id}")["conversation"]

    def patch(self, conversation_id: str, **fields) -> dict:
        return self.call("PATCH", f"/v1/conversations/{conversation_id}", fields)["conversation"]

    def solve(self, conversation_id: str) -> None:
        """Solved, or left as it is when it cannot be (a cleanup step: no assertion)."""
        self.stack.request("PATCH", f"/v1/conversations/{conversation_id}", {"status": "solved"}, token=self.token)

    def set_capacity(self, email: str, capacity: int) -> dict:
        return self.call("PATCH", f"/v1/agents/{self.team()[email]['id']}", {"capacity": capacity})

    def free_slots(self, needed: int) -> None:
        """Make room for `needed` chats: solve this agent's oldest chats if earlier suites left them open."""
        me = self.me()
        if me["capacity"] - me["active_chats"] >= needed:
            return
        mine = self.call("GET", "/v1/conversations?view=mine&limit=100")["items"]
        for conversation in reversed(mine):  # oldest activity first
            if me["capacity"] - me["active_chats"] >= needed:
                break
            self.solve(conversation["id"])
            me = self.me()
        assert me["capacity"] - me["active_chats"] >= needed, me


class Socket:
    """A real websocket to the local stack (a visitor's or an agent's), as `name`: frames are read on
    a thread into `frames` (`closed` once the server ends it); every wait is bounded, by `timeout`
    seconds unless told otherwise. Usable as a context manager (closed on leaving)."""

    timeout = WAIT

    def __init__(self, stack, token: str, name: str = "the socket"):
        self.name = name
        self.ws = connect(f"{stack.ws}?token={urllib.parse.quote(token, safe='')}", open_timeout=5,
                          close_timeout=1, proxy=None, max_size=None)
        self.frames: list[dict] = []
        self.closed = False
        self.page = None  # set it while a page has WebSocket routes: their handlers run only while Playwright is called
        self._seen = 0    # frames already handed out by wait_next (or passed by a request's reply)
        self._refs = itertools.count(1)
        self._changed = threading.Condition()
        threading.Thread(target=self._read, daemon=True).start()

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _read(self) -> None:
        try:
            for data in self.ws:
                with self._changed:
                    self.frames.append(json.loads(data))
                    self._changed.notify_all()
        except ConnectionClosed:
            pass
        with self._changed:
            self.closed = True
            self._changed.notify_all()

    def _until(self, find, what: str, timeout: float | None) -> dict:
        """What `find()` (called holding the lock) returns once it is not None; bounded by `timeout`."""
        timeout = self.timeout if timeout is None else timeout
        deadline = time.monotonic() + timeout
        while True:
            with self._changed:
                found = find()
                left = deadline - time.monotonic()
                if found is None and left > 0 and self.page is None:
                    self._changed.wait(min(left, 0.5))
            if found is not None:
                return found
            if left <= 0:
                raise AssertionError(f"{self.name} never got {what} within {timeout}s; last frames: {self.frames[-8:]}")
            if self.page is not None:
                self.page.wait_for_timeout(50)

    def wait(self, match, what: str = "a matching frame", timeout: float | None = None) -> dict:
        """The first frame so far that matches; waits for one if there is none yet."""
        return self._until(lambda: next((f for f in self.frames if match(f)), None), what, timeout)

    def wait_next(self, match, what: str = "a matching frame", timeout: float | None = None) -> dict:
        """The first matching frame among those not handed out yet: each frame is looked at once, and
        the frames up to a request's reply count as handed out."""
        def find():
            while self._seen < len(self.frames):
                frame = self.frames[self._seen]
                self._seen += 1
                if match(frame):
                    return frame
            return None
        return self._until(find, what, timeout)

    def request(self, action: str, **fields) -> dict:
        """Send the action with a ref of its own; its reply, which must be an ack."""
        ref = f"r{next(self._refs)}"
        self.tell(action, ref=ref, **fields)
        reply = self.wait(lambda f: f.get("ref") == ref and f.get("type") in ("ack", "error"), f"a reply to {action}")
        with self._changed:
            self._seen = max(self._seen, next(i for i, f in enumerate(self.frames) if f is reply) + 1)
        assert reply["type"] == "ack", reply
        return reply

    def tell(self, action: str, **fields) -> None:
        """Send the action without waiting for anything."""
        self.ws.send(json.dumps({"action": action, **fields}))

    def drain(self, timeout: float = 0.3) -> None:
        """Let whatever arrives within `timeout` come in (to look at everything sent so far)."""
        time.sleep(timeout)

    def close(self) -> None:
        self.ws.close()


class AgentSocket(Socket):
    """An agent on the websocket API, signed in as `email`; on closing it releases the chats it held."""

    timeout = 10

    def __init__(self, stack, email: str = "agent@example.com"):
        login = stack.agent(email)
        self.token, self.profile = login["token"], login["agent"]
        super().__init__(stack, self.token, "the agent")
        self.accepted: list[str] = []

    def conversation_of(self, page) -> dict:
        """The conversation the page's visitor started (found by the page's unique URL marker)."""
        return self.wait(lambda f: f["type"] == "inbox" and page.marker in (f["conversation"]["visitor"].get("page_url") or ""),
                         f"an inbox event for {page.marker}")["conversation"]

    def accept(self, conversation_id: str) -> None:
        self.request("accept", conversation_id=conversation_id)
        self.accepted.append(conversation_id)

    def assigned(self, conversation_id: str) -> dict:
        """Routing gave the conversation to this (online) agent: the inbox event that says so."""
        event = self.wait(lambda f: f["type"] == "inbox" and f["conversation"]["id"] == conversation_id
                          and f["conversation"]["assignee_id"] == self.profile["id"]
                          and f["conversation"]["status"] == "open", f"{conversation_id} assigned to the agent")
        self.accepted.append(conversation_id)
        return event["conversation"]

    def given(self) -> list[str]:
        """Every conversation this agent was seen holding (their chats to release)."""
        with self._changed:
            frames = list(self.frames)
        held = {f["conversation"]["id"] for f in frames if f["type"] in ("inbox", "conversation")
                and f["conversation"]["assignee_id"] == self.profile["id"]}
        return sorted(held | set(self.accepted))

    def say(self, conversation_id: str, text: str) -> dict:
        return self.request("send", conversation_id=conversation_id, client_msg_id=uuid.uuid4().hex, text=text)["message"]

    def messages(self, conversation_id: str) -> list[dict]:
        return self.request("history", conversation_id=conversation_id, limit=100)["messages"]

    def close(self) -> None:
        self.page = None
        for conversation_id in self.given():  # free the slots (capacity 3) for the next test
            ref = f"release-{conversation_id}"
            self.tell("set_status", ref=ref, conversation_id=conversation_id, status="solved")
            self.wait(lambda f: f.get("ref") == ref, f"the release of {conversation_id}")
        super().close()


class Visitor(Socket):
    """One simulated visitor: a real websocket to the local gateway, and the chat it started."""

    def __init__(self, stack, token: str, name: str):
        super().__init__(stack, token, name)
        self.conversation_id: str | None = None

    def start(self, text: str) -> dict:
        conversation = self.request("start", text=text)["conversation"]
        self.conversation_id = conversation["id"]
        return conversation

    def say(self, text: str) -> dict:
        return self.request("send", conversation_id=self.conversation_id,
                            client_msg_id=uuid.uuid4().hex, text=text)["message"]

    def typing(self, preview: str) -> None:
        self.tell("typing", conversation_id=self.conversation_id, state="on", preview=preview)


def set_presence(stack, token: str, status: str) -> dict:
    """The agent's presence, set over a websocket of its own (closed again: no socket is left open)."""
    with Socket(stack, token, "presence") as socket:
        reply = socket.request("presence", status=status)
        assert reply["status"] == status, reply
        return reply


def solve_leftovers(stack, admin_token: str) -> None:
    """Nothing left waiting or open in the admin's workspace (earlier tests' and suites' chats solved)."""
    for view in ("unassigned", "open", "pending"):
        status, page = stack.request("GET", f"/v1/conversations?view={view}&limit=100", token=admin_token)
        assert status == 200, page
        for conversation in page["items"]:
            stack.request("PATCH", f"/v1/conversations/{conversation['id']}", {"status": "solved"},
                          token=admin_token)


# --- the console --------------------------------------------------------------------------------

SEEDED_CAPACITY = 3  # both demo agents


def demo_at_rest(stack, agent_api, admin_api) -> None:
    """Both demo agents away (routing gives them nothing), capacities as seeded, nothing waiting or open."""
    set_presence(stack, agent_api.token, "away")
    set_presence(stack, admin_api.token, "away")
    seeded_capacities(admin_api)
    solve_leftovers(stack, admin_api.token)


def seeded_capacities(admin_api) -> None:
    for email in (AGENT, ADMIN):
        if admin_api.team()[email]["capacity"] != SEEDED_CAPACITY:
            admin_api.set_capacity(email, SEEDED_CAPACITY)


def remember_presence(page, agent_id: str, status: str) -> None:
    """The status this browser chose last for the agent (the console restores it on sign-in)."""
    page.add_init_script(f"""(() => {{
        const key = "parley.console.prefs";
        const prefs = JSON.parse(localStorage.getItem(key) || "{{}}");
        prefs.presenceByAgent = prefs.presenceByAgent || {{}};
        if (!prefs.presenceByAgent[{json.dumps(agent_id)}]) {{
            prefs.presenceByAgent[{json.dumps(agent_id)}] = {json.dumps(status)};
            localStorage.setItem(key, JSON.stringify(prefs));
        }}
    }})()""")


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    """Fill the console's sign-in form and send it."""
    form = page.locator("#login-form")
    form.get_by_label("Email").fill(email)
    form.get_by_label("Password").fill(password)
    form.get_by_role("button", name="Sign in").click()


def console_as(stack, new_page, email: str, hash_: str = "#/kb", prepare=None, locale: str | None = None):
    """The console signed in as `email` (kept away: routing gives them nothing), at `hash_`; `prepare(page)`
    runs before the console loads (to route its requests); `locale` is the browser's language."""
    agent_id = stack.agent(email, PASSWORD)["agent"]["id"]
    page = new_page(viewport=VIEWPORT, **({"locale": locale} if locale else {}))
    if prepare:
        prepare(page)
    page.add_init_script(f"""localStorage.setItem("parley.console.prefs",
        JSON.stringify({{presenceByAgent: {{{json.dumps(agent_id)}: "away"}}}}));""")
    page.goto(stack.http + "/console/")
    sign_in(page, email)
    expect(page.locator("#conn")).to_have_attribute("data-state", "open")
    page.evaluate("h => { location.hash = h; }", hash_)
    return page


def row(page, conversation_id: str):
    """The conversation's row in the console's list."""
    return page.locator(f'#conv-list li[data-id="{conversation_id}"]')


# The texts under `selector` (and the three attributes) that are still the English of a catalogue entry, or
# fit one of its templates ("Published at {time}."): what a French reader would find untranslated.
ENGLISH_LEFT = r"""async (selector) => {
  const { catalogue } = await import(new URL("js/i18n.js", document.baseURI).href);
  const escape = (s) => s.replace(/[.*+?^${}()|[\]\\\/]/g, "\\$&");
  const template = (s) => new RegExp("^" + s.split(/\{\w+\}/).map(escape).join(".+") + "$");
  const english = [], french = [];
  for (const [en, fr] of catalogue()) if (typeof fr === "string" && fr !== en) {
    english.push(template(en));
    french.push(template(fr));
  }
  const key = (s) => s.replace(/\s+/g, " ").trim();
  const left = [];
  const check = (what, text) => {
    const said = key(text || "");
    if (said && english.some((re) => re.test(said)) && !french.some((re) => re.test(said))) left.push(what + ": " + said);
  };
  for (const root of document.querySelectorAll(selector)) {
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_ELEMENT | NodeFilter.SHOW_TEXT);
    for (let node = root; node; node = walker.nextNode()) {
      if (node.nodeType === Node.TEXT_NODE) { check("text", node.nodeValue); continue; }
      for (const name of ["placeholder", "title", "aria-label"]) check(name, node.getAttribute(name));
    }
  }
  return left;
}"""


def english_left(page, selector: str) -> list[str]:
    return page.evaluate(ENGLISH_LEFT, selector)


# --- the widget ---------------------------------------------------------------------------------

def call(stack, token: str, method: str, path: str, body=None, expect_status: int = 200) -> dict:
    """One REST request as the token's agent, its status checked; the answer's body."""
    status, data = stack.request(method, path, body, token=token)
    assert status == expect_status, (method, path, status, data)
    return data


def quiet_workspace(stack) -> None:
    """Nothing left waiting or open in the demo workspace, and Ada Admin away (routing skips her)."""
    admin = AgentSocket(stack, "admin@example.com")
    try:
        admin.request("presence", status="away")
        solve_leftovers(stack, admin.token)
    finally:
        admin.ws.close()


def stack_outbox(stack) -> list[dict]:
    """Every email the local stack's SES has sent."""
    with urllib.request.urlopen(stack.http + "/_local/outbox.json", timeout=10) as resp:
        return json.loads(resp.read())


def visit(new_page, stack, site: str = "demo", open_panel: bool = True, **context):
    """A fresh person (own storage) on the demo page; `page.marker` is unique to this page's URL."""
    page = new_page(**context)
    page.marker = uuid.uuid4().hex[:12]
    page.goto(f"{stack.http}/?site={site}&t={page.marker}")
    expect(page.locator(".parley-launcher")).to_be_visible()
    if open_panel:
        page.locator(".parley-launcher").click()
        expect(page.locator(".parley-panel")).to_be_visible()
    return page


def write(page, text: str) -> None:
    box = page.locator(".parley-composer textarea")
    box.fill(text)
    box.press("Enter")


def bubbles(page) -> list[str]:
    """What people wrote, in the widget's log (not the system's notices: who joined, a solve)."""
    return page.locator(".parley-log .parley-msg:not(.parley-system) .parley-bubble").all_inner_texts()
