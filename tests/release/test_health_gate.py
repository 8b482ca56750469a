"""The health gate against a real HTTP application, real commands and a real log stream."""

from __future__ import annotations

import sys
import threading
from pathlib import Path

import pytest

from health_app import closed_port_url, serve
from safemigrate.errors import UsageError
from safemigrate.release.health import (
    CommandProbe,
    GatePolicy,
    HttpProbe,
    LogWatcher,
    Outcome,
    Verdict,
    parse_expectation,
    run_gate,
)
from support import CANARY_PASSWORD

FAST = GatePolicy(interval=0.01, timeout=1.0, deadline=10.0)


def test_a_healthy_app_passes_after_three_successes_in_a_row() -> None:
    with serve([200]) as app:
        result = run_gate([HttpProbe(app.url)], FAST)
    assert result.verdict is Verdict.PASSED
    assert [m.outcome for m in result.measurements] == [Outcome.SUCCESS] * 3
    assert app.requests == 3


def test_a_broken_app_fails_after_three_failures() -> None:
    with serve([500]) as app:
        result = run_gate([HttpProbe(app.url)], FAST)
    assert result.verdict is Verdict.FAILED
    assert result.failures == 3 and app.requests == 3
    assert all(m.detail == "HTTP 500" for m in result.measurements)


def test_a_failure_resets_the_successes_in_a_row() -> None:
    with serve([200, 200, 503, 200, 200, 200]) as app:
        result = run_gate([HttpProbe(app.url)], FAST)
    assert result.verdict is Verdict.PASSED
    assert app.requests == 6 and result.failures == 1


def test_four_errors_in_a_row_count_as_one_failure() -> None:
    result = run_gate([HttpProbe(closed_port_url())], FAST)
    assert result.verdict is Verdict.FAILED
    assert len(result.measurements) == 12  # 3 failures of 4 errors each
    assert all(m.outcome is Outcome.ERROR and m.detail.startswith("no answer") for m in result.measurements)


def test_an_app_that_restarts_briefly_is_not_failed_by_its_errors() -> None:
    with serve(["drop", "drop", "drop", 200, 200, 200]) as app:
        result = run_gate([HttpProbe(app.url)], FAST)
    assert result.verdict is Verdict.PASSED
    assert result.failures == 0
    assert [m.outcome for m in result.measurements][:3] == [Outcome.ERROR] * 3


def test_a_slow_answer_is_an_error_not_a_failure() -> None:
    with serve(["slow", 200], slow_seconds=1.0) as app:
        result = run_gate([HttpProbe(app.url)], GatePolicy(interval=0.01, timeout=0.2, deadline=10))
    assert result.measurements[0].outcome is Outcome.ERROR
    assert result.verdict is Verdict.PASSED


def test_no_verdict_by_the_deadline_is_inconclusive() -> None:
    # Success, error, success, error ...: never three successes in a row, never four errors in a row.
    with serve([200, "drop"] * 200) as app:
        result = run_gate([HttpProbe(app.url)], GatePolicy(interval=0.02, timeout=1, deadline=0.5))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.failures == 0
    assert "no verdict within 0.5 s" in result.reason


def test_expectations_on_the_json_answer_decide_success() -> None:
    with serve([200], body={"status": "ok", "schema": {"version": 4}}) as app:
        good = run_gate([HttpProbe(app.url, [parse_expectation("$.schema.version=4")])], FAST)
        bad = run_gate([HttpProbe(app.url, [parse_expectation("$.schema.version=5")])], FAST)
        missing = run_gate([HttpProbe(app.url, [parse_expectation("$.nope=1")])], FAST)
    assert good.verdict is Verdict.PASSED and good.measurements[0].detail == "HTTP 200, $.schema.version=4"
    assert bad.verdict is Verdict.FAILED
    assert bad.measurements[0].detail == "HTTP 200, but $.schema.version is 4, expected 5"
    assert missing.measurements[0].detail == "HTTP 200, but $.nope is missing from the answer"


@pytest.mark.parametrize("text", ["nothing", "$.a[x]=1", "=3"])
def test_a_malformed_expectation_is_a_usage_error(text: str) -> None:
    with pytest.raises(UsageError):
        parse_expectation(text)


def test_every_probe_must_succeed_in_a_round() -> None:
    with serve([200]) as good, serve([500]) as bad:
        result = run_gate([HttpProbe(good.url), HttpProbe(bad.url)], FAST)
    assert result.verdict is Verdict.FAILED


def test_a_command_probe_succeeds_on_exit_0_and_fails_otherwise(tmp_path: Path) -> None:
    script = tmp_path / "probe.sh"
    script.write_text("#!/bin/sh\n[ -e \"$1\" ] || { echo 'not ready yet' >&2; exit 3; }\n")
    script.chmod(0o755)
    flag = tmp_path / "ready"
    failed = run_gate([CommandProbe([str(script), str(flag)])], FAST)
    assert failed.verdict is Verdict.FAILED and failed.measurements[0].detail == "exit 3: not ready yet"
    flag.touch()
    assert run_gate([CommandProbe([str(script), str(flag)])], FAST).verdict is Verdict.PASSED


def test_a_command_probe_that_is_not_an_executable_is_refused_before_measuring() -> None:
    with pytest.raises(UsageError, match="not an executable on PATH"):
        CommandProbe(["no-such-program-safemigrate"])


def test_a_matching_log_line_fails_the_gate_while_the_app_answers_200() -> None:
    program = "import time\nfor i in range(200):\n    print('panic: nil map' if i == 3 else 'ok', flush=True)\n" \
              "    time.sleep(0.01)\n"
    watcher = LogWatcher([sys.executable, "-c", program], r"panic:")
    with serve([200]) as app:
        result = run_gate([HttpProbe(app.url)], GatePolicy(interval=0.05, timeout=1, deadline=10,
                                                           success_threshold=200, failure_limit=1),
                          log_watcher=watcher)
    assert result.verdict is Verdict.FAILED
    assert any(m.probe.startswith("log: ") and m.detail == "panic: nil map" for m in result.measurements)


def test_cancel_stops_the_gate_between_measurements() -> None:
    cancel = threading.Event()
    seen: list[Outcome] = []

    def after_first(measurement: object) -> None:
        seen.append(Outcome.SUCCESS)
        cancel.set()

    with serve([200]) as app:
        result = run_gate([HttpProbe(app.url)], GatePolicy(interval=5, timeout=1, deadline=60),
                          cancel=cancel, on_measurement=after_first)
    assert result.verdict is Verdict.CANCELLED
    assert len(result.measurements) == 1 and result.duration < 5


def test_a_password_in_the_health_url_never_shows() -> None:
    with serve([200]) as app:
        url = app.url.replace("http://", f"http://probe:{CANARY_PASSWORD}@")
        result = run_gate([HttpProbe(url)], FAST)
    assert CANARY_PASSWORD not in repr(result.to_dict())


def test_a_redirect_is_a_failure_and_is_not_followed() -> None:
    with serve([302]) as app:
        result = run_gate([HttpProbe(app.url)], FAST)
    assert result.verdict is Verdict.FAILED and result.measurements[0].detail == "HTTP 302"


@pytest.mark.parametrize("policy", [dict(interval=-1), dict(timeout=0), dict(success_threshold=0)])
def test_a_nonsensical_policy_is_a_usage_error(policy: dict[str, float]) -> None:
    with pytest.raises(UsageError):
        GatePolicy(**policy)  # type: ignore[arg-type]
