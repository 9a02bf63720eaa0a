"""Business hours' arithmetic (chalicelib/core/hours.py) with fixed clocks: split shifts, a night shift past
midnight, a holiday and special hours, the history of changes, and both daylight-saving changes of
Europe/Paris (the last Sundays of March and October)."""
from datetime import UTC, date, datetime

import pytest

from chalicelib.core import hours

PARIS = {
    "timezone": "Europe/Paris",
    "week": {"mon": [["09:00", "12:30"], ["13:30", "18:00"]], "tue": [["09:00", "18:00"]],
             "wed": [["09:00", "18:00"]], "thu": [["09:00", "18:00"]], "fri": [["09:00", "17:00"]],
             "sat": [["22:00", "02:00"]], "sun": []},
    "exceptions": [{"date": "2026-12-25", "closed": True}, {"date": "2026-12-24", "hours": [["09:00", "13:00"]]}],
}


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def schedule(doc=None) -> dict:
    checked, problems = hours.check(doc or PARIS)
    assert problems == []
    return checked


def test_a_split_shift_is_open_in_both_halves_and_closed_at_lunch():
    s = schedule()
    # Monday 7 December 2026, Paris is UTC+1 in winter.
    assert hours.is_open(s, utc(2026, 12, 7, 8, 0))        # 09:00 Paris
    assert not hours.is_open(s, utc(2026, 12, 7, 11, 45))  # 12:45, lunch
    assert hours.is_open(s, utc(2026, 12, 7, 12, 30))      # 13:30
    assert not hours.is_open(s, utc(2026, 12, 7, 17, 0))   # 18:00: the end is not open
    assert hours.next_change(s, utc(2026, 12, 7, 11, 45)) == (False, utc(2026, 12, 7, 12, 30))
    assert hours.next_change(s, utc(2026, 12, 7, 9, 0)) == (True, utc(2026, 12, 7, 11, 30))


def test_a_night_shift_runs_past_midnight_into_sunday():
    s = schedule()
    assert hours.is_open(s, utc(2026, 12, 5, 21, 30))      # Saturday 22:30
    assert hours.is_open(s, utc(2026, 12, 6, 0, 30))       # Sunday 01:30, the shift started Saturday
    assert not hours.is_open(s, utc(2026, 12, 6, 1, 0))    # Sunday 02:00
    # Sunday afternoon, closed: back on Monday at 09:00 Paris.
    assert hours.next_change(s, utc(2026, 12, 6, 14, 0)) == (False, utc(2026, 12, 7, 8, 0))


def test_a_holiday_is_closed_and_special_hours_replace_the_day():
    s = schedule()
    assert not hours.is_open(s, utc(2026, 12, 25, 10, 0))  # Friday, Christmas
    assert hours.is_open(s, utc(2026, 12, 24, 11, 0))      # Thursday 12:00, special hours 09-13
    assert not hours.is_open(s, utc(2026, 12, 24, 13, 0))  # 14:00, a normal Thursday would be open
    # Closed from Christmas Eve 13:00 until Saturday's night shift (Christmas is closed, not Friday's hours).
    assert hours.next_change(s, utc(2026, 12, 24, 12, 0)) == (False, utc(2026, 12, 26, 21, 0))


def test_the_end_of_october_change_gives_a_night_shift_through_it_an_hour_more():
    s = schedule()
    # Saturday 24 October 2026 22:00 CEST (UTC+2); clocks fall back from 03:00 to 02:00 that night, so
    # 02:00 happens twice: the shift ends at its first occurrence (00:00 UTC), 4 hours as on any Saturday.
    assert hours.day_intervals(s, date(2026, 10, 24)) == [(utc(2026, 10, 24, 20, 0), utc(2026, 10, 25, 0, 0))]
    # A shift from 22:00 to 06:00 through the change lasts 9 hours, one more than its clock says.
    night = schedule({"timezone": "Europe/Paris", "week": {"sat": [["22:00", "06:00"]]}})
    assert hours.business_seconds(night, utc(2026, 10, 24, 12, 0), utc(2026, 10, 25, 12, 0)) == 9 * 3600
    # The Monday after is UTC+1 again: 09:00 Paris is 08:00 UTC.
    assert hours.is_open(s, utc(2026, 10, 26, 8, 0)) and not hours.is_open(s, utc(2026, 10, 26, 7, 59))
    # The Friday before was UTC+2: 09:00 Paris was 07:00 UTC.
    assert hours.is_open(s, utc(2026, 10, 23, 7, 0)) and not hours.is_open(s, utc(2026, 10, 23, 6, 59))


def test_the_end_of_march_change_takes_an_hour_from_a_night_shift_through_it():
    s = schedule()
    # Saturday 27 March 2027 22:00 CET (UTC+1) to Sunday 02:00: clocks spring forward at 02:00 to 03:00.
    opens, closes = hours.day_intervals(s, date(2027, 3, 27))[0]
    assert opens == utc(2027, 3, 27, 21, 0)
    assert hours.business_seconds(s, utc(2027, 3, 27, 12, 0), utc(2027, 3, 28, 12, 0)) == 4 * 3600
    assert not hours.is_open(s, closes)
    night = schedule({"timezone": "Europe/Paris", "week": {"sat": [["22:00", "06:00"]]}})
    assert hours.business_seconds(night, utc(2027, 3, 27, 12, 0), utc(2027, 3, 28, 12, 0)) == 7 * 3600
    # The Monday after is UTC+2: 09:00 Paris is 07:00 UTC.
    assert hours.next_change(s, utc(2027, 3, 28, 12, 0)) == (False, utc(2027, 3, 29, 7, 0))


def test_a_time_the_spring_change_skips_falls_an_hour_later():
    doc = {"timezone": "Europe/Paris", "week": {"sun": [["02:30", "05:00"]]}}
    s = schedule(doc)
    # 02:30 does not exist on 28 March 2027: read with the offset before the change (UTC+1), 01:30 UTC,
    # which the clock shows as 03:30.
    assert hours.day_intervals(s, date(2027, 3, 28)) == [(utc(2027, 3, 28, 1, 30), utc(2027, 3, 28, 3, 0))]


def test_business_seconds_across_a_week_and_the_weekend():
    s = schedule()
    # Monday 00:00 to next Monday 00:00 (UTC+1 all week): 8 + 9 * 3 + 8 hours, and the 4-hour night shift.
    week = hours.business_seconds(s, utc(2026, 11, 29, 23, 0), utc(2026, 12, 6, 23, 0))
    assert week == (8 + 27 + 8 + 4) * 3600
    # A conversation waiting from Friday 16:00 to Monday 10:00 Paris: an hour on Friday, the Saturday
    # night shift, an hour on Monday.
    assert hours.business_seconds(s, utc(2026, 12, 4, 15, 0), utc(2026, 12, 7, 9, 0)) == (1 + 4 + 1) * 3600


def test_the_schedule_in_force_on_each_day_comes_from_the_history():
    winter = schedule()
    summer = schedule({**PARIS, "week": {**PARIS["week"], "sat": []}})
    history = [{"from": "2026-06-01", "schedule": summer}, {"from": "2026-01-01", "schedule": winter}]
    assert hours.schedule_on(history, date(2025, 12, 31)) is None
    assert hours.schedule_on(history, date(2026, 3, 1)) is winter
    assert hours.schedule_on(history, date(2026, 6, 1)) is summer


def test_a_schedule_without_hours_never_opens():
    s = schedule({"timezone": "Europe/Paris", "week": {}})
    assert hours.next_change(s, utc(2026, 12, 7, 12, 0)) == (False, None)
    assert hours.business_seconds(s, utc(2026, 12, 1), utc(2026, 12, 31)) == 0


def test_a_long_closure_is_looked_past():
    doc = {**PARIS, "exceptions": [{"date": f"2026-08-{d:02d}", "closed": True} for d in range(1, 32)]}
    s = schedule(doc)
    assert hours.next_change(s, utc(2026, 7, 31, 17, 0)) == (False, utc(2026, 9, 1, 7, 0))  # Tuesday 1 September


@pytest.mark.parametrize("breaking, field", [
    (lambda d: d.update(timezone="Mars/Olympus"), "timezone"),
    (lambda d: d["week"].update(funday=[]), "week"),
    (lambda d: d["week"].update(mon=[["9:00", "12:00"]]), "week.mon[0]"),
    (lambda d: d["week"].update(mon=[["09:00", "12:00"], ["11:00", "14:00"]]), "week.mon"),
    (lambda d: d["week"].update(tue=[["10:00", "10:00"]]), "week.tue[0]"),
    (lambda d: d["exceptions"].append({"date": "2026-02-30", "closed": True}), "exceptions[2].date"),
    (lambda d: d["exceptions"].append({"date": "2026-12-25", "closed": True}), "exceptions[2].date"),
    (lambda d: d["exceptions"].append({"date": "2026-12-31"}), "exceptions[2]"),
])
def test_each_problem_is_named_by_its_place(breaking, field):
    import copy
    doc = copy.deepcopy(PARIS)
    breaking(doc)
    _, problems = hours.check(doc)
    assert field in [p["field"] for p in problems], problems
