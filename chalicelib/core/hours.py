"""Business hours (issue 16, first part): a site's weekly opening hours in its own IANA timezone, with
several intervals a day, intervals past midnight and dated exceptions (holidays closed, special hours),
and the arithmetic the widget, routing and the reports need: open at an instant, when it next opens or
closes, and the business seconds between two instants. Pure: no AWS, no clock of its own.

A schedule:
    {"timezone": "Europe/Paris",
     "week": {"mon": [["09:00", "12:30"], ["13:30", "18:00"]], ..., "sat": [["22:00", "02:00"]], "sun": []},
     "exceptions": [{"date": "2026-12-25", "closed": true}, {"date": "2026-12-24", "hours": [["09:00", "13:00"]]}]}

An interval belongs to the day it starts on; one whose end is not after its start ends the next day (so
["22:00", "02:00"] is a night shift, ["00:00", "24:00"] the whole day). An exception replaces the intervals
that start on its date; a night shift of the day before still runs into it. Local times are read in the
site's timezone on the day they happen: a day of a daylight-saving change has 23 or 25 hours, and a time
the change skips (02:30 on the last Sunday of March in Paris) is read as the offset before it, so it falls
an hour later on the clock (PEP 495's fold=0); a time that happens twice is its first occurrence.
A site's schedules are kept with the day each took effect: `schedule_on(history, day)` is the one in force.

Saved by GET/PUT/DELETE /v1/sites/{site_key}/hours (workspace/schedule.py); the availability's `open_now`
and `opens_at` follow it. Still to come (issue 16): the widget saying when the team is back, routing and
the handoff's queue timeout respecting the hours, the console's page; and `tzdata` in the Lambda package
(its Python runtimes may lack the system's timezone database; zoneinfo falls back to the package; measure
it with bench/cold_start.py).
"""
import re
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

DAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
MAX_INTERVALS, MAX_EXCEPTIONS = 6, 366
HORIZON_DAYS = 400  # how far ahead the next opening is looked for (a year of holidays and a little)
_TIME = re.compile(r"^([01]\d|2[0-3]):([0-5]\d)$|^24:00$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def check(document) -> tuple[dict, list[dict]]:
    """(the schedule as stored, problems [{field, message}]): every problem named by its place."""
    problems: list[dict] = []

    def problem(field: str, message: str) -> None:
        problems.append({"field": field, "message": message})

    if not isinstance(document, dict):
        problem("hours", "must be a JSON object: {timezone, week, exceptions}")
        return {}, problems
    zone = document.get("timezone")
    try:
        if not isinstance(zone, str) or not zone:
            raise ZoneInfoNotFoundError(zone)
        ZoneInfo(zone)
    except (ZoneInfoNotFoundError, ValueError):
        problem("timezone", "must be an IANA timezone, like Europe/Paris")
    week = document.get("week") or {}
    if not isinstance(week, dict) or set(week) - set(DAYS):
        problem("week", f"must be an object of days: {', '.join(DAYS)}")
        week = {}
    schedule = {"timezone": zone, "week": {day: _intervals(week.get(day) or [], f"week.{day}", problem)
                                           for day in DAYS}, "exceptions": []}
    exceptions = document.get("exceptions") or []
    if not isinstance(exceptions, list) or len(exceptions) > MAX_EXCEPTIONS:
        problem("exceptions", f"must be a list of at most {MAX_EXCEPTIONS} dated exceptions")
        exceptions = []
    seen = set()
    for i, exception in enumerate(exceptions):
        at = f"exceptions[{i}]"
        if not isinstance(exception, dict):
            problem(at, "must be an object: {date, closed} or {date, hours}")
            continue
        day = exception.get("date")
        if not isinstance(day, str) or not _DATE.match(day) or not _is_date(day):
            problem(f"{at}.date", "must be a date, YYYY-MM-DD")
            continue
        if day in seen:
            problem(f"{at}.date", f"{day} has two exceptions")
        seen.add(day)
        if exception.get("closed") is True:
            schedule["exceptions"].append({"date": day, "closed": True})
        elif "hours" in exception:
            schedule["exceptions"].append({"date": day, "hours": _intervals(exception["hours"], f"{at}.hours",
                                                                             problem)})
        else:
            problem(at, "needs closed: true or hours: [[start, end], …]")
    schedule["exceptions"].sort(key=lambda e: e["date"])
    return schedule, problems


def _is_date(text: str) -> bool:
    try:
        date.fromisoformat(text)
        return True
    except ValueError:
        return False


def _intervals(value, field: str, problem) -> list:
    if not isinstance(value, list) or len(value) > MAX_INTERVALS:
        problem(field, f"must be a list of at most {MAX_INTERVALS} [start, end] intervals")
        return []
    out = []
    for i, interval in enumerate(value):
        at = f"{field}[{i}]"
        if (not isinstance(interval, list) or len(interval) != 2
                or not all(isinstance(t, str) and _TIME.match(t) for t in interval)):
            problem(at, "must be [start, end], each HH:MM (24:00 for the end of the day)")
            continue
        if interval[0] == "24:00":
            problem(at, "cannot start at 24:00 (start at 00:00 the day after)")
            continue
        if interval[0] == interval[1]:
            problem(at, "starts and ends at the same time: give 00:00-24:00 for the whole day")
            continue
        out.append(list(interval))
    starts = [_minutes(s) for s, _ in out]
    ends = [_minutes(s) + _length(s, e) for s, e in out]
    spans = sorted(zip(starts, ends, strict=True))
    if any(b[0] < a[1] for a, b in zip(spans, spans[1:], strict=False)):
        problem(field, "intervals overlap")
    return sorted(out, key=lambda pair: _minutes(pair[0]))


def _minutes(text: str) -> int:
    hours, minutes = text.split(":")
    return int(hours) * 60 + int(minutes)


def _length(start: str, end: str) -> int:
    """Minutes from start to end; an end not after the start is the next day's."""
    length = _minutes(end) - _minutes(start)
    return length if length > 0 else length + 24 * 60


# --- the arithmetic ---------------------------------------------------------------------------

def _zone(schedule: dict) -> ZoneInfo:
    return ZoneInfo(schedule["timezone"])


def _local(day: date, hhmm: str, zone: ZoneInfo) -> datetime:
    """An instant (UTC) of a local wall time on `day`; 24:00 is the next day's midnight."""
    minutes = _minutes(hhmm)
    if minutes == 24 * 60:
        day, minutes = day + timedelta(days=1), 0
    wall = datetime(day.year, day.month, day.day, minutes // 60, minutes % 60, tzinfo=zone)
    return wall.astimezone(UTC)


def day_intervals(schedule: dict, day: date) -> list[tuple[datetime, datetime]]:
    """The opening intervals that start on local `day`, as UTC instants (its exception's, if it has one)."""
    exception = next((e for e in schedule.get("exceptions", []) if e["date"] == day.isoformat()), None)
    if exception is not None:
        pairs = [] if exception.get("closed") else exception["hours"]
    else:
        pairs = schedule["week"][DAYS[day.weekday()]]
    zone = _zone(schedule)
    out = []
    for start, end in pairs:
        closes_day = day if _minutes(end) > _minutes(start) else day + timedelta(days=1)  # a night shift
        out.append((_local(day, start, zone), _local(closes_day, end, zone)))
    return out


def _around(schedule: dict, when: datetime, days_before: int, days_after: int) -> list[tuple[datetime, datetime]]:
    """The opening intervals starting on the local days from `days_before` before `when` to `days_after`
    after it, merged where they touch or overlap (a night shift into the next day's morning), in order."""
    today = when.astimezone(_zone(schedule)).date()
    spans = sorted(span for offset in range(-days_before, days_after + 1)
                   for span in day_intervals(schedule, today + timedelta(days=offset)))
    merged: list[tuple[datetime, datetime]] = []
    for opens, closes in spans:
        if merged and opens <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], closes))
        else:
            merged.append((opens, closes))
    return merged


def is_open(schedule: dict, when: datetime) -> bool:
    """Whether the team works at instant `when` (an aware datetime)."""
    return any(opens <= when < closes for opens, closes in _around(schedule, when, 1, 0))


def next_change(schedule: dict, when: datetime) -> tuple[bool, datetime | None]:
    """(open now, the instant that changes it): when it closes if open, when it next opens if closed;
    None when it never does within HORIZON_DAYS (a schedule with no hours at all)."""
    for window in (8, HORIZON_DAYS):  # the coming week answers nearly always; a long closure looks further
        for opens, closes in _around(schedule, when, 1, window):
            if opens <= when < closes and (closes < _horizon(schedule, when, window) or window == HORIZON_DAYS):
                return True, closes
            if opens > when:
                return False, opens
    return False, None


def _horizon(schedule: dict, when: datetime, window: int) -> datetime:
    """The end of the last local day a window of `window` days after `when` covers."""
    last = when.astimezone(_zone(schedule)).date() + timedelta(days=window + 1)
    return _local(last, "00:00", _zone(schedule))


def business_seconds(schedule: dict, start: datetime, end: datetime) -> float:
    """Seconds of [start, end) the team was at work (the reports' business time)."""
    if end <= start:
        return 0.0
    spans = _around(schedule, start, 1, (end - start).days + 2)
    return sum(max(0.0, (min(closes, end) - max(opens, start)).total_seconds()) for opens, closes in spans)


def open_state(schedule: dict | None, at: float) -> tuple[bool, datetime | None]:
    """(open at epoch `at`, the instant that changes it): always open, and no change, without a schedule."""
    if not schedule:
        return True, None
    return next_change(schedule, datetime.fromtimestamp(at, UTC))


def local_today(schedule: dict | None, at: float) -> date:
    """The date at epoch `at` in the schedule's timezone (UTC without one)."""
    zone = ZoneInfo(schedule["timezone"]) if schedule else UTC
    return datetime.fromtimestamp(at, UTC).astimezone(zone).date()


def schedule_on(history: list[dict], day: date) -> dict | None:
    """The schedule in force on local `day`: the latest of `history` ([{"from": "YYYY-MM-DD", "schedule"}])
    that took effect on or before it; None before the first."""
    current = None
    for entry in sorted(history, key=lambda e: e["from"]):
        if entry["from"] <= day.isoformat():
            current = entry["schedule"]
    return current
