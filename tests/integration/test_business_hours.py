"""A site's business hours over its REST routes (issue 16, first part): saved with every problem named by
its place, each change kept with the day it took effect, and the availability the widget reads following
them, with fixed clocks."""
from datetime import UTC, datetime

import pytest

from chalicelib import bootstrap
from chalicelib.chat import sites
from chalicelib.errors import BadRequestError, ForbiddenError, NotFoundError
from chalicelib.workspace import schedule
from tests.integration.test_admin import admin_caller

OFFICE = {"timezone": "Europe/Paris", "week": {day: [["09:00", "12:30"], ["13:30", "18:00"]]
                                               for day in ("mon", "tue", "wed", "thu", "fri")},
          "exceptions": [{"date": "2026-12-25", "closed": True}]}


def at(world, *args) -> None:
    """Every module's clock at this UTC instant."""
    stamp = datetime(*args, tzinfo=UTC).timestamp()
    bootstrap.configure(sender=world.sender, now=lambda: stamp)


def test_hours_are_saved_kept_and_followed_by_the_availability(world):
    boss = admin_caller(world)
    at(world, 2026, 12, 7, 10, 0)  # Monday 11:00 in Paris
    assert sites.availability("site-a")["open_now"] is True  # no hours: always open
    saved = schedule.save(boss, "site-a", OFFICE)
    assert saved["open_now"] is True and saved["changes_at"] == "2026-12-07T11:30:00.000Z"  # lunch at 12:30
    assert [h["from"] for h in saved["history"]] == ["2026-12-07"]
    at(world, 2026, 12, 7, 12, 0)  # 13:00: lunch
    closed = sites.availability("site-a")
    assert closed["open_now"] is False and closed["opens_at"] == "2026-12-07T12:30:00.000Z"
    at(world, 2026, 12, 24, 17, 30)  # Thursday 18:30: back Saturday? no: Christmas is closed, then the weekend
    assert sites.availability("site-a")["opens_at"] == "2026-12-28T08:00:00.000Z"
    # A correction since the 1st, then always open: three changes, newest first, each with its day.
    at(world, 2026, 12, 7, 10, 1)
    schedule.save(boss, "site-a", {**OFFICE, "from": "2026-12-01"})
    at(world, 2026, 12, 7, 10, 2)
    schedule.remove(boss, "site-a")
    history = schedule.read(boss, "site-a")["history"]
    assert [(h["from"], h["hours"] is None) for h in history] == [("2026-12-07", True), ("2026-12-01", False),
                                                                    ("2026-12-07", False)]
    assert sites.availability("site-a")["open_now"] is True


def test_every_problem_is_named_and_nothing_is_saved(world):
    boss = admin_caller(world)
    broken = {"timezone": "Paris", "week": {"mon": [["09:00", "12:00"], ["11:00", "13:00"]], "tue": [["9", "5"]]},
              "exceptions": [{"date": "2026-02-30", "closed": True}]}
    with pytest.raises(BadRequestError) as raised:
        schedule.save(boss, "site-a", broken)
    fields = [p["field"] for p in raised.value.to_dict()["errors"]]
    assert fields == ["timezone", "week.mon", "week.tue[0]", "exceptions[0].date"]
    with pytest.raises(BadRequestError) as later:
        schedule.save(boss, "site-a", {**OFFICE, "from": "2999-01-01"})
    assert later.value.field == "from"
    assert schedule.read(boss, "site-a")["history"] == []


def test_agents_read_admins_change_and_other_workspaces_see_nothing(world):
    agent = world.agent_connection(world.agent())
    assert schedule.read(agent, "site-a")["hours"] is None
    with pytest.raises(ForbiddenError):
        schedule.save(agent, "site-a", OFFICE)
    with pytest.raises(NotFoundError):
        schedule.save(admin_caller(world, "ws_b"), "site-a", OFFICE)
