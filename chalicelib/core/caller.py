"""Who is asking, as every rule below the edges sees it: one value, built by one of these factories."""
from dataclasses import dataclass

from chalicelib.errors import ForbiddenError


@dataclass(frozen=True)
class Caller:
    kind: str  # "visitor" | "agent" (the system acts as an agent with role "system")
    id: str
    workspace_id: str
    name: str | None = None
    site_key: str | None = None
    role: str = "visitor"
    connection_id: str | None = None
    rate_limit_count: int = 20
    rate_limit_window: int = 10
    source_ip: str | None = None  # where the caller's socket came from, for per-IP limits

    @classmethod
    def for_agent(cls, agent_id: str, workspace_id: str, *, name: str | None = None, role: str | None = None,
                  connection_id: str | None = None) -> "Caller":
        """An agent of the workspace, `role` "agent" or "admin"."""
        return cls(kind="agent", id=agent_id, workspace_id=workspace_id, name=name, role=role or "agent",
                   connection_id=connection_id)

    @classmethod
    def for_visitor(cls, visitor_id: str, workspace_id: str, *, name: str | None = None, site_key: str | None = None,
                    connection_id: str | None = None, source_ip: str | None = None, rate_limit_count: int = 20,
                    rate_limit_window: int = 10) -> "Caller":
        """A visitor (never an admin: no role can be passed), with their socket's id, source IP and their
        site's message rate limit when the caller is a connection."""
        return cls(kind="visitor", id=visitor_id, workspace_id=workspace_id, name=name, site_key=site_key,
                   connection_id=connection_id, source_ip=source_ip, rate_limit_count=rate_limit_count,
                   rate_limit_window=rate_limit_window)

    @classmethod
    def system(cls, workspace_id: str, actor: str = "routing", name: str | None = "Routing") -> "Caller":
        """Parley itself (routing, flows, the bot), acting in one workspace."""
        return cls(kind="agent", id=actor, workspace_id=workspace_id, name=name, role="system")

    @property
    def is_agent(self) -> bool:
        return self.kind == "agent"

    @property
    def is_admin(self) -> bool:
        return self.role == "admin"

    def author(self) -> dict:
        return {"kind": self.kind, "id": self.id, "name": self.name}


def require_admin(caller: Caller, what: str = "do this") -> None:
    """The one admin check: a 403 naming what only admins may do."""
    if not caller.is_admin:
        raise ForbiddenError(f"only admins can {what}")
