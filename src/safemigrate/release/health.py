"""The health gate: is the application healthy after a change? Modelled on Argo Rollouts' analysis.

Every round measures each probe once. A measurement is a **success** (2xx and
every expectation holds, or a command that exits 0), a **failure** (a non-2xx
answer, an expectation that does not hold, a command that exits non-zero, a log
line that matches the failure pattern) or an **error** (connection refused, a
timeout: the application may just be restarting). A round is a failure if any
probe failed, else an error if any probe errored, else a success.

The gate **passes** after ``success_threshold`` successful rounds in a row and
**fails** once ``failure_limit`` failures were counted (in total, as Argo's
``failureLimit``); ``error_limit`` errors in a row count as one failure. When the
deadline comes with neither verdict the gate is **inconclusive**: its own
outcome, never silently a pass or a failure. A cancel token stops it between
measurements (``cancelled``).
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, Protocol

from ..errors import UsageError
from ..redact import redact_text, redact_url

__all__ = [
    "CommandProbe",
    "Expectation",
    "GatePolicy",
    "GateResult",
    "HttpProbe",
    "LogWatcher",
    "Measurement",
    "Outcome",
    "Probe",
    "Verdict",
    "parse_expectation",
    "run_gate",
]


class Outcome(StrEnum):
    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


class Verdict(StrEnum):
    PASSED = "passed"
    FAILED = "failed"
    INCONCLUSIVE = "inconclusive"
    CANCELLED = "cancelled"


@dataclass(frozen=True)
class Measurement:
    probe: str
    outcome: Outcome
    detail: str
    duration: float
    round: int

    def to_dict(self) -> dict[str, Any]:
        return {"probe": self.probe, "outcome": self.outcome.value, "detail": self.detail,
                "duration_ms": round(self.duration * 1000, 1), "round": self.round}


@dataclass(frozen=True)
class GatePolicy:
    """The gate's knobs; the defaults are the ones documented for ``release``."""

    initial_delay: float = 0.0
    interval: float = 5.0
    timeout: float = 3.0
    success_threshold: int = 3
    failure_limit: int = 3
    error_limit: int = 4
    deadline: float = 120.0

    def __post_init__(self) -> None:
        for name in ("initial_delay", "interval", "deadline"):
            if getattr(self, name) < 0:
                raise UsageError(f"health gate: {name} must not be negative")
        if self.timeout <= 0:
            raise UsageError("health gate: the probe timeout must be more than 0 seconds")
        for name in ("success_threshold", "failure_limit", "error_limit"):
            if getattr(self, name) < 1:
                raise UsageError(f"health gate: {name} must be 1 or more")


@dataclass(frozen=True)
class GateResult:
    verdict: Verdict
    reason: str
    measurements: tuple[Measurement, ...]
    duration: float
    failures: int
    rounds: int

    @property
    def passed(self) -> bool:
        return self.verdict is Verdict.PASSED

    def to_dict(self) -> dict[str, Any]:
        return {"verdict": self.verdict.value, "reason": self.reason, "rounds": self.rounds,
                "failures": self.failures, "duration_s": round(self.duration, 3),
                "measurements": [m.to_dict() for m in self.measurements]}


class Probe(Protocol):
    name: str

    def measure(self, timeout: float) -> tuple[Outcome, str]: ...


# -- expectations on a JSON answer ------------------------------------------------------------

_STEP = re.compile(r"\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]")


@dataclass(frozen=True)
class Expectation:
    """``PATH=VALUE`` on the JSON body: ``$.schema.version=4`` or ``status=ok``."""

    path: str
    steps: tuple[str | int, ...]
    expected: str

    def check(self, document: Any) -> tuple[bool, str]:
        value = document
        for step in self.steps:
            in_list = isinstance(step, int) and isinstance(value, list) and step < len(value)
            in_object = isinstance(step, str) and isinstance(value, dict) and step in value
            if not (in_list or in_object):
                return False, f"{self.path} is missing from the answer"
            value = value[step]
        shown = value if isinstance(value, str) else json.dumps(value)
        if shown == self.expected:
            return True, f"{self.path}={shown}"
        return False, f"{self.path} is {shown}, expected {self.expected}"


def parse_expectation(text: str) -> Expectation:
    path, equals, expected = text.partition("=")
    path = path.strip()
    body = path[1:] if path.startswith("$") else path
    steps: list[str | int] = []
    position = 0
    while position < len(body):
        match = _STEP.match(body, position)
        if match is None or match.end() == position:
            raise UsageError(f"`release.health_expect` {text!r}: cannot read the path at {body[position:]!r}",
                             hint="write it as $.field.sub[0]=VALUE, e.g. $.schema_version=4",
                             settings=("release.health_expect",))
        steps.append(match.group(1) if match.group(1) is not None else int(match.group(2)))
        position = match.end()
    if not equals or not steps:
        raise UsageError(f"`release.health_expect` {text!r} must be PATH=VALUE",
                         hint="for example `release.health_expect` '$.schema_version=4'",
                         settings=("release.health_expect",))
    return Expectation(path=path, steps=tuple(steps), expected=expected.strip())


# -- probes -----------------------------------------------------------------------------------

class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """A redirect is the answer: a 3xx is not 2xx, so it is a failure, never followed elsewhere."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


@dataclass
class HttpProbe:
    """GET ``url``: 2xx with every expectation holding is a success."""

    url: str
    expectations: Sequence[Expectation] = ()
    name: str = field(init=False)

    def __post_init__(self) -> None:
        if not self.url.startswith(("http://", "https://")):
            raise UsageError(f"health URL {redact_url(self.url)!r} must start with http:// or https://")
        self.name = redact_url(self.url)
        self._opener = urllib.request.build_opener(_NoRedirect)

    def measure(self, timeout: float) -> tuple[Outcome, str]:
        request = urllib.request.Request(self.url, headers={"User-Agent": "safemigrate-health-gate",
                                                            "Accept": "application/json, */*"})
        try:
            with self._opener.open(request, timeout=timeout) as response:
                status = response.status
                body = response.read(1 << 20)
        except urllib.error.HTTPError as exc:
            return Outcome.FAILURE, f"HTTP {exc.code}"
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            return Outcome.ERROR, redact_text(f"no answer: {reason}")
        if not 200 <= status < 300:
            return Outcome.FAILURE, f"HTTP {status}"
        if not self.expectations:
            return Outcome.SUCCESS, f"HTTP {status}"
        try:
            document = json.loads(body)
        except ValueError:
            return Outcome.FAILURE, f"HTTP {status}, but the answer is not JSON"
        notes = []
        for expectation in self.expectations:
            holds, note = expectation.check(document)
            if not holds:
                return Outcome.FAILURE, f"HTTP {status}, but {note}"
            notes.append(note)
        return Outcome.SUCCESS, f"HTTP {status}, " + ", ".join(notes)


def _require_program(argv: Sequence[str], what: str) -> None:
    if not argv:
        raise UsageError(f"`{what}`: the command is empty", settings=(what,))
    if shutil.which(argv[0]) is None:
        raise UsageError(f"`{what}`: {argv[0]!r} is not an executable on PATH",
                         hint="give the full path of the program, or install it", settings=(what,))


@dataclass
class CommandProbe:
    """Run ``argv`` (no shell): exit 0 is a success; a timeout is an error."""

    argv: Sequence[str]
    env: Mapping[str, str] | None = None
    name: str = field(init=False)

    def __post_init__(self) -> None:
        _require_program(self.argv, "release.health_cmd")
        self.name = redact_text(" ".join(self.argv))

    def measure(self, timeout: float) -> tuple[Outcome, str]:
        try:
            done = subprocess.run(list(self.argv), capture_output=True, text=True, timeout=timeout,
                                  env=dict(self.env) if self.env is not None else None,
                                  stdin=subprocess.DEVNULL, check=False)
        except subprocess.TimeoutExpired:
            return Outcome.ERROR, f"no result within {timeout:g} s"
        except OSError as exc:
            return Outcome.ERROR, f"could not run it: {exc.strerror}"
        if done.returncode == 0:
            return Outcome.SUCCESS, "exit 0"
        last = (done.stderr or done.stdout).strip().splitlines()
        tail = f": {redact_text(last[-1])[:200]}" if last else ""
        return Outcome.FAILURE, f"exit {done.returncode}{tail}"


class LogWatcher:
    """Stream a command's output during the gate; each line matching ``pattern`` is a failure.

    The runbook's ``kubectl logs -f deployment/chat-server --tail=100``, watched for
    ``ERROR`` or ``panic:`` instead of by a tired person.
    """

    def __init__(self, argv: Sequence[str], pattern: str, env: Mapping[str, str] | None = None,
                 seen: set[str] | None = None) -> None:
        _require_program(argv, "release.log_cmd")
        try:
            self.pattern = re.compile(pattern)
        except re.error as exc:
            raise UsageError(f"`release.log_fail_pattern` {pattern!r} is not a valid regular expression: {exc}",
                             settings=("release.log_fail_pattern",)) from None
        self.argv = list(argv)
        self.env = env
        self.name = redact_text(" ".join(self.argv))
        self._matches: list[str] = []
        # Lines already counted by an earlier gate of the same release: `kubectl logs --tail=100`
        # replays the last lines each time it starts, and an error logged before the rollback must
        # not fail the gate after it. Shared between the watchers of one release.
        self._seen = seen if seen is not None else set()
        self._lock = threading.Lock()
        self._process: subprocess.Popen[str] | None = None
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._process = subprocess.Popen(self.argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                         stdin=subprocess.DEVNULL, text=True, errors="replace",
                                         env=dict(self.env) if self.env is not None else None)
        self._thread = threading.Thread(target=self._read, name="safemigrate-log-watcher", daemon=True)
        self._thread.start()

    def _read(self) -> None:
        assert self._process is not None and self._process.stdout is not None
        for line in self._process.stdout:
            if self.pattern.search(line):
                text = redact_text(line.rstrip("\n"))[:300]
                with self._lock:
                    if text in self._seen:
                        continue
                    self._seen.add(text)
                    self._matches.append(text)

    def take_matches(self) -> list[str]:
        with self._lock:
            matches, self._matches = self._matches, []
        return matches

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            try:
                self._process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self._process.kill()
                self._process.wait()
        if self._thread is not None:
            self._thread.join(timeout=5)


# -- the gate ---------------------------------------------------------------------------------

class _Cancel(Protocol):
    def is_set(self) -> bool: ...

    def wait(self, timeout: float | None = None) -> bool: ...


def run_gate(
    probes: Sequence[Probe],
    policy: GatePolicy,
    *,
    log_watcher: LogWatcher | None = None,
    cancel: _Cancel | None = None,
    on_measurement: Callable[[Measurement], None] | None = None,
) -> GateResult:
    """Measure until a verdict or the deadline. ``cancel`` (a threading.Event) stops it early."""
    if not probes and log_watcher is None:
        raise UsageError("the health gate has nothing to measure",
                         hint="give `release.health_url` URL or `release.health_cmd` CMD",
                         settings=("release.health_url", "release.health_cmd"))
    stop = cancel if cancel is not None else threading.Event()
    started = time.monotonic()
    deadline = started + policy.deadline
    measurements: list[Measurement] = []
    failures = successes_in_row = errors_in_row = rounds = 0

    def record(measurement: Measurement) -> None:
        measurements.append(measurement)
        if on_measurement is not None:
            on_measurement(measurement)

    def finish(verdict: Verdict, reason: str) -> GateResult:
        return GateResult(verdict, reason, tuple(measurements), time.monotonic() - started, failures, rounds)

    if log_watcher is not None:
        log_watcher.start()
    try:
        if policy.initial_delay and stop.wait(policy.initial_delay):
            return finish(Verdict.CANCELLED, "stopped before the first measurement")
        while True:
            if stop.is_set():
                return finish(Verdict.CANCELLED, f"stopped after {rounds} round(s)")
            rounds += 1
            outcomes = []
            for probe in probes:
                begun = time.monotonic()
                outcome, detail = probe.measure(policy.timeout)
                record(Measurement(probe.name, outcome, detail, time.monotonic() - begun, rounds))
                outcomes.append(outcome)
            if log_watcher is not None:
                for line in log_watcher.take_matches():
                    record(Measurement(f"log: {log_watcher.name}", Outcome.FAILURE, line, 0.0, rounds))
                    outcomes.append(Outcome.FAILURE)
            if Outcome.FAILURE in outcomes:
                failures += outcomes.count(Outcome.FAILURE)
                successes_in_row = errors_in_row = 0
            elif Outcome.ERROR in outcomes:
                successes_in_row = 0
                errors_in_row += 1
                if errors_in_row >= policy.error_limit:
                    failures += 1
                    errors_in_row = 0
            else:
                errors_in_row = 0
                successes_in_row += 1 if outcomes else 0
            if failures >= policy.failure_limit:
                return finish(Verdict.FAILED, f"{failures} failure(s) counted (limit {policy.failure_limit})")
            if probes and successes_in_row >= policy.success_threshold:
                return finish(Verdict.PASSED, f"{successes_in_row} successful round(s) in a row")
            if time.monotonic() + policy.interval > deadline:
                if not probes and failures == 0:
                    # Only a log watcher: a quiet log until the deadline is the pass condition.
                    return finish(Verdict.PASSED, "no log line matched until the deadline")
                return finish(Verdict.INCONCLUSIVE,
                              f"no verdict within {policy.deadline:g} s: {successes_in_row} success(es) in a "
                              f"row of {policy.success_threshold} needed, {failures} failure(s) of "
                              f"{policy.failure_limit}")
            if stop.wait(policy.interval):
                return finish(Verdict.CANCELLED, f"stopped after {rounds} round(s)")
    finally:
        if log_watcher is not None:
            log_watcher.stop()
