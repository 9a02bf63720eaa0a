"""The authorization matrix's one table: every REST route and websocket action, who may use it, a
valid request for it, and what each principal must get.

tests/protocol/test_authz.py makes one test of each row and principal, and fails when app.py,
chalicelib/ws.py or docs/protocol.md has a route or an action that has no row here (or a row names one
that is gone). A new route is therefore added here first, with who may use it; the rules below then say
what everybody else gets.

Targets. A request's path parameters name the workspace "demo"'s things, made by the test's world:
`conversation_id` a visitor's conversation (the *victim*, with one message), `visitor_id` that visitor,
`site_key` "demo", `agent_id` an agent of demo, `canned_id` a canned response, `webhook_id` a (disabled)
webhook and `delivery_id` one of its deliveries, `rating` 5. A principal who must be refused gets the
shared ones; a principal who may act gets new ones for the parameters a row lists in `fresh`, since its
call uses them up (a deletion, a block, a rating).
"""
import itertools
from collections.abc import Callable
from dataclasses import dataclass

_serial = itertools.count(1)


def unique(prefix: str) -> str:
    """A value no other request of the run uses (emails, shortcuts): a repeated create is a 409, not an answer."""
    return f"{prefix}{next(_serial)}"


# --- who may use a REST route -----------------------------------------------------------------

PUBLIC = "public"  # anyone; an Authorization header changes nothing
LINK = "link"      # whoever holds the link: the emailed rating link's `sig`
AGENT = "agent"    # any agent of the workspace; another workspace's target is 404, as if it did not exist
ADMIN = "admin"    # an admin of the workspace; any other agent 403, before the body or the target is read

# Path parameters that name one of a workspace's things: an agent of another workspace gets 404 for them.
# A route with none of them is a collection: another workspace's agent gets their own workspace's.
TARGETS = ("conversation_id", "visitor_id", "site_key", "agent_id", "canned_id", "webhook_id", "delivery_id",
           "article_id")


@dataclass(frozen=True)
class Route:
    method: str
    path: str                     # as app.py declares it
    access: str
    ok: int = 200                 # what the principal who may use it gets for this request
    body: Callable | None = None  # world -> a valid JSON body (None: no body)
    query: Callable | None = None  # world -> a valid query string
    snapshot: str | None = None   # what a refused call must leave as it was (test_authz.SNAPSHOTS)
    fresh: tuple = ()             # path parameters the allowed principals get new ones of

    @property
    def id(self) -> str:
        return f"{self.method} {self.path}"

    @property
    def targeted(self) -> bool:
        return any("{" + name + "}" in self.path for name in TARGETS)


def _canned(world) -> dict:
    return {"shortcut": unique("matrix"), "text": "Hello {{visitor.name}}"}


def _article(world) -> dict:
    return {"title": unique("Matrix article "), "body": "Orders ship in 2 days.", "locale": "en",
            "status": "published", "questions": ["when does it ship"]}


def _flow(world) -> dict:
    """A flow that is saved but off: the matrix's demo site keeps starting conversations `queued`."""
    return {"enabled": False, "start": "hi", "nodes": {"hi": {"kind": "message", "text": {"en": unique("Hello ")},
                                                               "end": True}}}


def _hours(world) -> dict:
    """Open every day around the clock: the matrix's demo site stays open for its visitors."""
    return {"timezone": "Europe/Paris", "week": {day: [["00:00", "24:00"]] for day in
                                                  ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}}


def _new_agent(world) -> dict:
    return {"email": unique("matrix-agent-") + "@example.com", "name": "Matrix Agent", "password": "matrix-password"}


def _webhook(world) -> dict:
    # Disabled, like the world's: no domain event makes deliveries behind a test's back.
    return {"url": "http://127.0.0.1:9/matrix", "events": ["message.created"], "enabled": False}


ROUTES = [
    # Public: the widget's and the sign-in routes.
    Route("GET", "/v1/health", PUBLIC),
    Route("POST", "/v1/visitor/sessions", PUBLIC, 201, body=lambda w: {"site_key": "demo"}),
    Route("OPTIONS", "/v1/visitor/sessions", PUBLIC, 204),
    Route("GET", "/v1/sites/{site_key}/availability", PUBLIC),
    Route("OPTIONS", "/v1/sites/{site_key}/availability", PUBLIC, 204),
    Route("GET", "/v1/sites/{site_key}/settings", PUBLIC),
    Route("OPTIONS", "/v1/sites/{site_key}/settings", PUBLIC, 204),
    Route("GET", "/v1/articles/search", PUBLIC, query=lambda w: "site_key=demo&q=ship"),
    Route("OPTIONS", "/v1/articles/search", PUBLIC, 204),
    # `article_id` in a public route is the site's own published article; another workspace's site reads 404.
    Route("GET", "/v1/sites/{site_key}/articles/{article_id}", PUBLIC),
    Route("OPTIONS", "/v1/sites/{site_key}/articles/{article_id}", PUBLIC, 204),
    # What the widget reports of its suggestions (a `helpful` with a conversation needs its visitor's token).
    Route("POST", "/v1/articles/events", PUBLIC, 202,
          body=lambda w: {"site_key": "demo", "event": "opened", "article_ids": [w.ids["article"]]}),
    Route("OPTIONS", "/v1/articles/events", PUBLIC, 204),
    Route("POST", "/v1/agents/login", PUBLIC, body=lambda w: {"email": "agent@example.com",
                                                               "password": "demo-password"}),
    Route("POST", "/v1/agents/refresh", PUBLIC, body=lambda w: {"refresh_token": w.refresh_token()}),
    Route("POST", "/v1/agents/new-password", PUBLIC, body=lambda w: w.password_challenge()),
    # The emailed rating link: its signature is the credential.
    Route("GET", "/v1/csat/{conversation_id}/{rating}", LINK, snapshot="conversation", fresh=("conversation_id",)),

    # Any agent of the workspace.
    Route("GET", "/v1/agents/me", AGENT),
    Route("GET", "/v1/agents", AGENT),
    Route("GET", "/v1/visitors/{visitor_id}", AGENT),
    Route("GET", "/v1/conversations", AGENT, query=lambda w: "view=all&limit=100"),
    Route("GET", "/v1/inbox/counts", AGENT),
    Route("GET", "/v1/conversations/{conversation_id}", AGENT),
    Route("PATCH", "/v1/conversations/{conversation_id}", AGENT, body=lambda w: {"title": unique("renamed "),
                                                                                 "tags": ["matrix"]},
          snapshot="conversation", fresh=("conversation_id",)),
    Route("GET", "/v1/conversations/{conversation_id}/messages", AGENT),
    Route("GET", "/v1/conversations/{conversation_id}/articles", AGENT),
    Route("GET", "/v1/canned-responses", AGENT),
    Route("POST", "/v1/canned-responses", AGENT, 201, body=_canned, snapshot="canned"),
    Route("PUT", "/v1/canned-responses/{canned_id}", AGENT, body=_canned, snapshot="canned"),
    Route("DELETE", "/v1/canned-responses/{canned_id}", AGENT, 204, snapshot="canned", fresh=("canned_id",)),
    Route("GET", "/v1/sites/{site_key}", AGENT),
    Route("GET", "/v1/sites/{site_key}/hours", AGENT),
    Route("GET", "/v1/articles", AGENT),
    Route("GET", "/v1/articles/{article_id}", AGENT),
    Route("POST", "/v1/contacts/{visitor_id}/block", AGENT, snapshot="visitor", fresh=("visitor_id",)),
    Route("DELETE", "/v1/contacts/{visitor_id}/block", AGENT, snapshot="visitor", fresh=("visitor_id",)),

    # Admins of the workspace.
    Route("POST", "/v1/agents", ADMIN, 201, body=_new_agent, snapshot="agents"),
    Route("PATCH", "/v1/agents/{agent_id}", ADMIN, body=lambda w: {"name": unique("Renamed ")}, snapshot="agents"),
    Route("DELETE", "/v1/agents/{agent_id}", ADMIN, 204, snapshot="agents", fresh=("agent_id",)),
    Route("PATCH", "/v1/sites/{site_key}", ADMIN, body=lambda w: {"greeting": unique("Hello ")}, snapshot="site"),
    Route("GET", "/v1/visitors", ADMIN, query=lambda w: f"email={w.victim_email}"),
    Route("GET", "/v1/visitors/{visitor_id}/export", ADMIN),
    Route("DELETE", "/v1/visitors/{visitor_id}", ADMIN, query=lambda w: "confirm=erase", snapshot="visitor",
          fresh=("visitor_id",)),
    Route("POST", "/v1/articles", ADMIN, 201, body=_article, snapshot="articles"),
    Route("PUT", "/v1/articles/{article_id}", ADMIN, body=_article, snapshot="articles"),
    Route("DELETE", "/v1/articles/{article_id}", ADMIN, 204, snapshot="articles", fresh=("article_id",)),
    Route("PUT", "/v1/sites/{site_key}/hours", ADMIN, body=lambda w: _hours(w), snapshot="hours"),
    Route("DELETE", "/v1/sites/{site_key}/hours", ADMIN, 204, snapshot="hours"),
    Route("GET", "/v1/sites/{site_key}/bot", ADMIN),
    Route("PUT", "/v1/sites/{site_key}/bot", ADMIN, body=_flow, snapshot="bot"),
    Route("POST", "/v1/sites/{site_key}/bot/preview", ADMIN, 201, body=lambda w: {}, snapshot="bot"),
    Route("DELETE", "/v1/sites/{site_key}/bot", ADMIN, 204, snapshot="bot"),
    Route("GET", "/v1/webhooks", ADMIN),
    Route("POST", "/v1/webhooks", ADMIN, 201, body=_webhook, snapshot="webhooks"),
    Route("PATCH", "/v1/webhooks/{webhook_id}", ADMIN, body=lambda w: {"description": unique("matrix ")},
          snapshot="webhooks"),
    Route("DELETE", "/v1/webhooks/{webhook_id}", ADMIN, 204, snapshot="webhooks", fresh=("webhook_id",)),
    Route("POST", "/v1/webhooks/{webhook_id}/rotate-secret", ADMIN, snapshot="webhooks"),
    Route("POST", "/v1/webhooks/{webhook_id}/test", ADMIN, 202, snapshot="deliveries", fresh=("webhook_id",)),
    Route("GET", "/v1/webhooks/{webhook_id}/deliveries", ADMIN),
    # A fresh delivery has failed (the stack tries once): only a failed one can be retried.
    Route("POST", "/v1/webhooks/{webhook_id}/deliveries/{delivery_id}/retry", ADMIN, 202, snapshot="deliveries",
          fresh=("webhook_id", "delivery_id")),
]


# --- principals and what they get on REST ---------------------------------------------------

# Tokens that must never get past authentication (tests/protocol/test_authz.py's World makes each).
BAD_TOKENS = (
    "anonymous",         # no token at all
    "garbage",           # not a JWT
    "forged_visitor",    # a visitor token signed with another secret
    "expired_visitor",   # signed with the real secret, expired
    "alg_none_visitor",  # visitor claims, `alg: none`, no signature
    "forged_agent",      # an agent's claims signed with moto's published private key, which the stack does not use
    "tampered_agent",    # a real agent token with its signature changed
    "expired_agent",     # signed by the pool, for the app client, expired
    "alg_none_agent",    # an agent's claims, `alg: none`
    "agent_id_token",    # signed by the pool, but an ID token, not an access token
    "other_client",      # signed by the pool, an access token of another app client
    "alg_confusion",     # an agent's claims, HS256 keyed with the pool's public key
)
# Valid tokens that are still not an agent's: a visitor's, and an agent's whose profile was removed.
AGENT_PRINCIPALS = (*BAD_TOKENS, "visitor", "removed_agent", "agent", "admin", "agent_b", "admin_b")
PUBLIC_PRINCIPALS = ("anonymous", "forged_agent", "visitor")
# The rating link: the right signature, none, a made-up one, another conversation's, another rating's.
LINK_PRINCIPALS = ("link", "no_sig", "forged_sig", "other_conversation_sig", "other_rating_sig")
OTHER_WORKSPACE = ("agent_b", "admin_b")  # agent-b@ (role agent) and an admin, both of workspace demo-b


@dataclass(frozen=True)
class Expect:
    status: int
    code: str | None = None  # the error body's code; None for a success
    own: bool = False        # a success about the caller's own workspace: nothing of demo's in it


def principals(route: Route) -> tuple:
    return {PUBLIC: PUBLIC_PRINCIPALS, LINK: LINK_PRINCIPALS}.get(route.access, AGENT_PRINCIPALS)


def rest_expectation(route: Route, principal: str) -> Expect:
    """What `principal` must get from `route`: the rules of docs/protocol.md §13.1, §18.3 and §2."""
    if route.access == PUBLIC or principal == "link":
        return Expect(route.ok)
    if route.access == LINK:
        return Expect(404)  # the "bad link" page: nothing is recorded
    if principal in BAD_TOKENS or principal == "visitor":
        return Expect(401, "unauthorized")
    if principal == "removed_agent":
        return Expect(403, "forbidden")  # "no agent profile for this sign-in"
    if route.access == ADMIN and principal in ("agent", "agent_b"):
        return Expect(403, "forbidden")
    if principal in OTHER_WORKSPACE:
        return Expect(404, "not_found") if route.targeted else Expect(route.ok, own=True)
    return Expect(route.ok)  # agent, admin: their own workspace's route


# --- websocket actions ----------------------------------------------------------------------

VISITOR, AGENT_SOCKET, ANY = "visitor", "agent", "any"


@dataclass(frozen=True)
class Action:
    kind: str                  # VISITOR or AGENT_SOCKET: which dict of chalicelib/ws.py has it; ANY: both
    action: str
    fields: Callable = lambda cid: {}  # the conversation id it acts on -> the frame's other fields
    reply: str = "ack"         # what the allowed principal gets: "ack", "pong", "none" (the other side gets
                               # `event` instead), or "error:<code>:<field>" (a refusal that is not about who asks)
    event: str | None = None   # with reply "none": the event the other side receives
    targeted: bool = True      # it names a conversation; else it acts on the caller's own things
    checked_first: bool = False  # its error comes from the frame's own fields, before any conversation is
                                 # read: every caller of its kind gets it, the owner and intruders alike
    variant: str = ""          # a second row of one action (the same action with other fields)

    @property
    def id(self) -> str:
        return f"{self.kind}:{self.action}" + (f"+{self.variant}" if self.variant else "")


def _send(cid: str) -> dict:
    return {"conversation_id": cid, "client_msg_id": unique("matrix-"), "text": "hello from the matrix"}


ACTIONS = [
    Action(ANY, "ping", reply="pong", targeted=False),
    # Visitors (chalicelib/ws.py VISITOR_ACTIONS).
    Action(VISITOR, "start", targeted=False),
    Action(VISITOR, "current", targeted=False),
    Action(VISITOR, "send", _send),
    # Visitors write no internal notes: refused to the owner itself, and to anyone before the conversation is read.
    Action(VISITOR, "send", lambda cid: {**_send(cid), "internal": True}, reply="error:bad_request:internal",
           checked_first=True, variant="internal"),
    Action(VISITOR, "typing", lambda cid: {"conversation_id": cid, "state": "on", "preview": "peek"},
           reply="none", event="typing"),
    Action(VISITOR, "read", lambda cid: {"conversation_id": cid, "seq": 1}, reply="none", event="read"),
    Action(VISITOR, "history", lambda cid: {"conversation_id": cid}),
    Action(VISITOR, "rate", lambda cid: {"conversation_id": cid, "rating": 5}),
    # No bot question is ever open (docs/protocol.md §6): the owner's answer names the option, not the conversation.
    Action(VISITOR, "choose", lambda cid: {"conversation_id": cid, "option_id": "yes"},
           reply="error:not_found:option_id"),
    Action(VISITOR, "transcript", lambda cid: {"conversation_id": cid, "email": "matrix@example.com"}),
    # Agents (AGENT_ACTIONS).
    Action(AGENT_SOCKET, "send", _send),
    Action(AGENT_SOCKET, "send", lambda cid: {**_send(cid), "internal": True}, variant="internal"),
    Action(AGENT_SOCKET, "typing", lambda cid: {"conversation_id": cid, "state": "on"}, reply="none",
           event="typing"),
    Action(AGENT_SOCKET, "read", lambda cid: {"conversation_id": cid, "seq": 1}, reply="none", event="read"),
    Action(AGENT_SOCKET, "history", lambda cid: {"conversation_id": cid}),
    Action(AGENT_SOCKET, "presence", lambda cid: {"status": "away"}, targeted=False),
    Action(AGENT_SOCKET, "join", lambda cid: {"conversation_id": cid}),
    Action(AGENT_SOCKET, "leave", lambda cid: {"conversation_id": cid}),
    Action(AGENT_SOCKET, "accept", lambda cid: {"conversation_id": cid}),
    Action(AGENT_SOCKET, "transfer", lambda cid: {"conversation_id": cid, "to_group": "billing"}),
    Action(AGENT_SOCKET, "set_status", lambda cid: {"conversation_id": cid, "status": "solved"}),
]

# Sockets: "visitor" is the victim conversation's own visitor; "visitor_other" another visitor of site
# demo; "visitor_b" a visitor of site demo-b; "agent" agent@ of demo; "agent_b" agent-b@ of demo-b.
VISITOR_SOCKETS = ("visitor", "visitor_other", "visitor_b")
AGENT_SOCKETS = ("agent", "agent_b")


def ws_principals(row: Action, agent_actions: set, visitor_actions: set) -> tuple:
    """Who tries the row. The owner ("visitor" on visitor rows, "agent" on agent rows) acts on a conversation
    of its own; everyone else on the victim. The other kind of socket tries the rows its kind lacks only:
    what it shares (send, typing, read, history) is its own row."""
    if row.kind == ANY:
        return VISITOR_SOCKETS + AGENT_SOCKETS
    if row.kind == VISITOR:
        shared = row.action in agent_actions
        return ("visitor", "visitor_other", "visitor_b") + (() if shared else AGENT_SOCKETS)
    shared = row.action in visitor_actions
    return ("agent", "agent_b") + (() if shared else ("visitor", "visitor_b"))


@dataclass(frozen=True)
class WsExpect:
    reply: str                # "ack" | "none" | "pong" | "error"
    code: str | None = None
    field: str | None = None
    own: bool = False         # an ack about the caller's own things: nothing of the victim's in it
    owner: bool = False       # the principal acts on a conversation of its own


def ws_expectation(row: Action, principal: str) -> WsExpect:
    """What `principal` must get for the row: docs/protocol.md §3.3 (unknown action for this kind of caller),
    §4 and §5 (`not_found` for a conversation that is not the caller's, or of another workspace)."""
    if row.reply == "pong":
        return WsExpect("pong")
    owner = "visitor" if row.kind == VISITOR else "agent"
    refusal = row.reply.split(":")[1:] if row.reply.startswith("error:") else None
    if principal == owner:
        return WsExpect("error", *refusal, owner=True) if refusal else WsExpect(row.reply, owner=True)
    socket_kind = VISITOR if principal in VISITOR_SOCKETS else AGENT_SOCKET
    if socket_kind != row.kind:
        return WsExpect("error", "bad_request", "action")  # "unknown action": not one of this caller's
    if row.checked_first:
        return WsExpect("error", *refusal)
    if not row.targeted:
        return WsExpect("ack", own=True)
    return WsExpect("error", "not_found")


# --- $connect -------------------------------------------------------------------------------

# Every token that must not open a socket, and the upgrade's status (docs/protocol.md §3.2).
CONNECT_REFUSED = {**{name: 401 for name in BAD_TOKENS},
                   "empty": 401,            # `?token=`
                   "not_three_parts": 401,  # "a.b.c"
                   "unknown_kid": 401,      # RS256 with a key id the pool does not publish
                   "unknown_visitor": 401,  # signed by the server, for a visitor it never made
                   "wrong_typ": 401,        # signed by the server, but not `typ: visitor`
                   "blocked_visitor": 403,
                   "removed_agent": 403}
CONNECT_ACCEPTED = ("visitor", "agent")
