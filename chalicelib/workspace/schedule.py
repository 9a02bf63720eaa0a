"""A site's business hours, as the admin REST routes see them (GET / PUT / DELETE /v1/sites/{site_key}/hours):
the schedule in force on the site (what the widget's availability reads, no extra request) and every
change kept in `site_hours` with the day it took effect, for the reports (chalicelib/core/hours.py)."""
import json
from datetime import date

from chalicelib.chat.conversations import plain
from chalicelib.core import hours
from chalicelib.core.caller import Caller, require_admin
from chalicelib.core.clock import iso, new_id, now
from chalicelib.errors import BadRequestError, ProblemsError
from chalicelib.store.dynamo import owned
from chalicelib.store.models import Site, SiteHours

HISTORY_SHOWN = 20


def read(caller: Caller, site_key: str) -> dict:
    """GET: the schedule, whether the site is open now and when that changes, the latest changes."""
    site = owned(caller, Site, site_key, "site", consistent=True)
    return _answer(site)


def save(caller: Caller, site_key: str, body: dict) -> dict:
    """PUT: a new schedule, in force from `from` (a date in its timezone; default today there)."""
    require_admin(caller, "change business hours")
    site = owned(caller, Site, site_key, "site", consistent=True)
    body = dict(body or {})
    starts = body.pop("from", None)
    schedule, problems = hours.check(body)
    if problems:
        raise ProblemsError(problems)
    _record(caller, site, schedule, _from_date(starts, schedule))
    return _answer(site)


def remove(caller: Caller, site_key: str) -> None:
    """DELETE: always open from today (the change is kept, as any other)."""
    require_admin(caller, "change business hours")
    site = owned(caller, Site, site_key, "site", consistent=True)
    _record(caller, site, None, _from_date(None, plain(site.hours)))


def _from_date(value, schedule: dict | None) -> str:
    """The day a change takes effect, in the schedule's timezone: today, or a day before (a correction of
    what applied since then, for the reports); never a later one (save it on that day)."""
    today = hours.local_today(schedule, now())
    if value is None:
        return today.isoformat()
    try:
        day = date.fromisoformat(value) if isinstance(value, str) else None
    except ValueError:
        day = None
    if day is None:
        raise BadRequestError("from must be a date, YYYY-MM-DD", field="from")
    if day > today:
        raise BadRequestError(f"from cannot be after today ({today.isoformat()} there)", field="from")
    return day.isoformat()


def _record(caller: Caller, site: Site, schedule: dict | None, from_date: str) -> None:
    """The change kept first, then the site's schedule: a failure between leaves the history ahead, never
    behind (a retry writes both)."""
    # Keyed by when, and made unique: two changes in one millisecond are two changes.
    SiteHours(site.site_key, f"{iso()}#{new_id('h')[-8:]}", workspace_id=site.workspace_id, from_date=from_date,
              schedule=json.dumps(schedule, separators=(",", ":")) if schedule else None,
              changed_by=caller.id).save()
    site.update(actions=[Site.hours.set(schedule) if schedule else Site.hours.remove()])
    site.refresh(consistent_read=True)


def _answer(site: Site) -> dict:
    schedule = plain(site.hours)
    open_now, changes = hours.open_state(schedule, now())
    changes_list = SiteHours.query(site.site_key, scan_index_forward=False, limit=HISTORY_SHOWN,
                                   consistent_read=True)
    return {"site_key": site.site_key, "hours": schedule, "open_now": open_now,
            "changes_at": iso(changes.timestamp()) if changes else None,
            "history": [{"from": c.from_date, "changed_at": c.changed_at.split("#")[0], "changed_by": c.changed_by,
                         "hours": json.loads(c.schedule) if c.schedule else None} for c in changes_list]}
