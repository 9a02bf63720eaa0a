"""A seeded workspace on moto: a site, agents, visitors with live connections."""
import itertools

import pytest

from chalicelib import bootstrap
from chalicelib.chat import lifecycle, routing
from chalicelib.core.caller import Caller
from chalicelib.core.clock import iso
from chalicelib.identity import sessions, tokens
from chalicelib.store.models import Agent, Site, SiteSettings, Workspace
from tests.fakes import ManagementApi

_ids = itertools.count(1)


class World:
    def __init__(self):
        self.api = ManagementApi()
        self.sender = bootstrap.build_sender(client=self.api)
        stamp = iso()
        for ws, site_key in (("ws_a", "site-a"), ("ws_b", "site-b")):
            Workspace(ws, name=ws, created_at=stamp).save()
            Site(site_key, workspace_id=ws, name=site_key, identity_secret="secret-" + site_key,
                 settings=SiteSettings(), created_at=stamp).save()

    def agent(self, workspace_id: str = "ws_a", capacity: int = 3, name: str = "Agent",
              groups: list[str] | None = None) -> str:
        agent_id = f"agent-{next(_ids)}"
        Agent(agent_id, workspace_id=workspace_id, email=f"{agent_id}@example.com", name=name,
              capacity=capacity, groups=groups or [], created_at=iso()).save()
        return agent_id

    def online_agent(self, workspace_id: str = "ws_a", **kwargs) -> Caller:
        """An agent with a live connection who set presence online."""
        caller = self.agent_connection(self.agent(workspace_id, **kwargs))
        routing.set_presence(caller.id, "online", self.sender)
        return caller

    def agent_connection(self, agent_id: str) -> Caller:
        """An agent's live connection (what $connect records after verifying the Cognito token)."""
        from chalicelib.store.models import Connection
        agent = Agent.get(agent_id)
        cid = f"conn-{next(_ids)}"
        Connection(cid, kind="agent", workspace_id=agent.workspace_id, agent_id=agent.id,
                   agent_workspace_id=agent.workspace_id, name=agent.name, role=agent.role, connected_at=iso(),
                   expires_at=2**31).save()
        routing.connected(agent.id)
        self.api.connect(cid)
        return lifecycle.caller_for_connection(cid)

    def visitor_session(self, site_key: str = "site-a", **fields) -> dict:
        return sessions.create_visitor_session({"site_key": site_key, **fields})

    def visitor_connection(self, session: dict | None = None, site_key: str = "site-a") -> Caller:
        session = session or self.visitor_session(site_key)
        cid = f"conn-{next(_ids)}"
        lifecycle.connect(cid, session["token"])
        self.api.connect(cid)
        return lifecycle.caller_for_connection(cid)

    def token_for(self, caller: Caller) -> str:
        return tokens.issue_visitor_token(caller.id, caller.site_key, caller.workspace_id)[0]


@pytest.fixture
def world(aws):
    """Two workspaces on moto, a fake API Gateway management API and a sender posting to it. A test that
    swaps the app's parts (bootstrap.configure: this world's sender, its own clock) gets the defaults back."""
    yield World()
    bootstrap.configure()
