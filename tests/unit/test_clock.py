"""The wire format of times and ids (chalicelib/core/clock.py)."""
import re
from datetime import UTC, datetime

import pytest

from chalicelib.core import clock

STAMP = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def test_iso_is_utc_with_milliseconds_and_a_z():
    assert clock.iso(0) == "1970-01-01T00:00:00.000Z"
    assert clock.iso(1_700_000_000.123456) == "2023-11-14T22:13:20.123Z"
    assert clock.iso(1_700_000_000.9999) == "2023-11-14T22:13:20.999Z"  # truncated, never a 1000th millisecond
    assert clock.iso(1_700_000_000.0005) == "2023-11-14T22:13:20.000Z"


def test_iso_defaults_to_now(monkeypatch):
    monkeypatch.setattr(clock, "now", lambda: 1_700_000_000.5)
    assert clock.iso() == "2023-11-14T22:13:20.500Z"


def test_iso_stamps_sort_as_time_and_read_back():
    times = [0, 1.001, 999_999_999.999, 1_000_000_000, 1_700_000_000.5, 4_102_444_800]
    stamps = [clock.iso(t) for t in times]
    assert sorted(stamps) == stamps and all(STAMP.match(s) for s in stamps)
    for t, s in zip(times, stamps, strict=True):
        back = datetime.strptime(s, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC).timestamp()
        assert int(back * 1000) == int(t * 1000)


def test_now_is_epoch_seconds():
    import time
    before = time.time()
    assert before <= clock.now() <= time.time()


def test_new_ids_carry_their_prefix_and_never_repeat():
    ids = {clock.new_id("c") for _ in range(1000)}
    assert len(ids) == 1000
    assert all(re.fullmatch(r"c_[0-9a-f]{32}", i) for i in ids)
    assert clock.new_id("wh").startswith("wh_")


def test_parse_iso_reads_back_what_iso_writes_and_other_zoned_stamps():
    stamp = clock.iso(1_700_000_000.123)
    assert clock.parse_iso(stamp) == pytest.approx(1_700_000_000.123, abs=0.001)
    assert clock.parse_iso("2023-11-14T22:13:20Z") == 1_700_000_000.0  # EventBridge's form, no milliseconds
    assert clock.parse_iso("2023-11-14T23:13:20+01:00") == 1_700_000_000.0


@pytest.mark.parametrize("bad", ["", "yesterday", "2023-11-14T22:13:20"])  # the last: no zone
def test_parse_iso_refuses_what_is_not_a_zoned_stamp(bad):
    with pytest.raises(ValueError):
        clock.parse_iso(bad)


def test_one_ms_after_carries_into_the_second():
    assert clock.one_ms_after("2026-12-03T14:05:09.999Z") == "2026-12-03T14:05:10.000Z"
    assert clock.one_ms_after("2026-12-03T14:05:09.123Z") == "2026-12-03T14:05:09.124Z"
