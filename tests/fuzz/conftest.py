"""The fuzz modules' hypothesis profiles, their time limits, and the count of what they sent.

`fast` (the default) runs in `make test`: a few hundred frames and requests, reproducible in CI
(derandomized, no example database). `long` (`PARLEY_FUZZ=long`, what `make fuzz` runs) sends at
least 10,000 websocket frames and 3,000 REST requests with fresh randomness every run, and writes
what it sent and found to bench/results/fuzz.json.
"""
import json
import os
import platform
import time
from pathlib import Path

import hypothesis
import pytest
from hypothesis import HealthCheck, Phase, settings

from tests.fuzz.support import COUNTS, LONG, PROFILE, PROFILES

HERE = Path(__file__).resolve().parent
RESULTS = HERE.parents[1] / "bench" / "results" / "fuzz.json"

# Profiles are applied per test (support.fuzz_settings), never loaded globally: other suites that use
# hypothesis (schemathesis) keep their own defaults.
_COMMON = dict(deadline=None,  # a noisy 2-core machine: a slow example is not a failure
               database=None, print_blob=True,
               suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                      HealthCheck.filter_too_much, HealthCheck.function_scoped_fixture])
# No shrinking in the fast profile: a failure in `make test` reports the failing batch as it was drawn
# (its frames are in the notes) within seconds, instead of minutes of replays against the stack.
settings.register_profile(PROFILES["fast"], max_examples=40, derandomize=True,
                          phases=[Phase.explicit, Phase.reuse, Phase.generate], **_COMMON)
settings.register_profile(PROFILES["long"], max_examples=2500, derandomize=False, **_COMMON)


def pytest_collection_modifyitems(config, items):
    """The long profile runs for many minutes: lift pytest-timeout's 120 s for these tests only."""
    if not LONG:
        return
    for item in items:
        if HERE in Path(item.path).parents:
            item.add_marker(pytest.mark.timeout(3 * 3600))


def pytest_runtest_logreport(report):
    # Called through this directory's hook proxy: only the fuzz tests' reports arrive here.
    if report.when == "call" or report.failed:
        COUNTS.outcome(report.nodeid, report.outcome if report.when == "call" else f"{report.when} {report.outcome}")


def pytest_terminal_summary(terminalreporter):
    if COUNTS.started is None:
        return
    terminalreporter.write_sep("-", f"fuzz ({PROFILE} profile)")
    terminalreporter.write_line(COUNTS.line())


def pytest_sessionfinish(session):
    if not LONG or COUNTS.started is None:
        return
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    counts = COUNTS.summary()
    floors = {"frames": 10_000, "requests": 3_000}  # what issue 11 asks of the long run
    summary = {**counts, "floors": {**floors, "met": all(counts[k] >= v for k, v in floors.items())},
               "profile": PROFILE, "hypothesis": hypothesis.__version__,
               "python": platform.python_version(), "cpus": os.cpu_count(),
               "written_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    RESULTS.write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    terminalreporter = session.config.pluginmanager.get_plugin("terminalreporter")
    if terminalreporter:
        terminalreporter.write_line(f"fuzz summary written to {RESULTS}")
