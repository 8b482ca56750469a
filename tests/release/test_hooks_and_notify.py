"""Hooks run as real scripts without a shell; notifications reach a real webhook receiver."""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from health_app import closed_port_url
from safemigrate.errors import UsageError
from safemigrate.release.hooks import parse_hook, run_hook
from safemigrate.release.notify import notify
from support import CANARY_PASSWORD

RECORDER = """#!/bin/sh
# Records its arguments, one per line, and its whole environment.
out="$1"; shift
for arg in "$@"; do printf '%s\\n' "$arg"; done > "$out.args"
env > "$out.env"
echo "hook says the url is postgres://app:$SECRET@db/app"
exit "${HOOK_EXIT:-0}"
"""


@pytest.fixture
def recorder(tmp_path: Path) -> Path:
    script = tmp_path / "record.sh"
    script.write_text(RECORDER)
    script.chmod(0o755)
    return script


CONTEXT = {"release_id": "r-1", "env": "staging", "from_version": 3, "to_version": 5,
           "backup_id": None, "outcome": ""}


def test_a_hook_runs_without_a_shell_and_gets_the_release_context(recorder: Path, tmp_path: Path,
                                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DATABASE_URL", f"postgres://app:{CANARY_PASSWORD}@db/app")
    monkeypatch.setenv("PGPASSWORD", CANARY_PASSWORD)
    monkeypatch.setenv("PRODUCTION_DATABASE_URL", f"postgres://app:{CANARY_PASSWORD}@prod/app")
    out = tmp_path / "call"
    hook = parse_hook(f"{recorder} {out} 'two words' '$HOME' 'a;b' '*'")
    result = run_hook(hook, "before", CONTEXT, named_secrets=frozenset({"PRODUCTION_DATABASE_URL"}))
    assert result.ok, result.output
    assert (out.with_suffix(".args")).read_text().splitlines() == ["two words", "$HOME", "a;b", "*"]
    env = dict(line.split("=", 1) for line in out.with_suffix(".env").read_text().splitlines() if "=" in line)
    assert env["SAFEMIGRATE_RELEASE_ID"] == "r-1" and env["SAFEMIGRATE_PHASE"] == "before"
    assert (env["SAFEMIGRATE_FROM_VERSION"], env["SAFEMIGRATE_TO_VERSION"]) == ("3", "5")
    assert env["SAFEMIGRATE_BACKUP_ID"] == "" and env["SAFEMIGRATE_ENV"] == "staging"
    for secret in ("DATABASE_URL", "PGPASSWORD", "PRODUCTION_DATABASE_URL"):
        assert secret not in env
    assert CANARY_PASSWORD not in out.with_suffix(".env").read_text()


def test_a_hooks_output_is_kept_redacted_and_its_exit_code_reported(recorder: Path, tmp_path: Path,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SECRET", CANARY_PASSWORD)
    monkeypatch.setenv("HOOK_EXIT", "4")
    result = run_hook(parse_hook([str(recorder), str(tmp_path / "c")]), "after", CONTEXT,
                      secrets=[CANARY_PASSWORD])
    assert (result.ok, result.exit_code) == (False, 4)
    assert "hook says the url is postgres://app:xxxxx@db/app" in result.output
    assert CANARY_PASSWORD not in json.dumps(result.to_dict())


def test_a_hook_that_runs_past_its_timeout_is_stopped(tmp_path: Path) -> None:
    script = tmp_path / "slow.sh"
    script.write_text("#!/bin/sh\necho started\nexec sleep 30\n")
    script.chmod(0o755)
    result = run_hook(parse_hook(str(script), timeout=0.5), "before", CONTEXT)
    assert result.exit_code is None and not result.ok
    assert "started" in result.output and "stopped after its 0.5 s timeout" in result.output


@pytest.mark.parametrize(("spec", "message"), [
    ("", "the command is empty"),
    ("no-such-program-sm --flag", "not an executable on PATH"),
    ("echo 'unbalanced", "No closing quotation"),
])
def test_a_bad_hook_is_refused_before_the_release_starts(spec: str, message: str) -> None:
    with pytest.raises(UsageError, match=message):
        parse_hook(spec)


@contextmanager
def webhook_receiver(status: int = 200) -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers["Content-Length"])
            received.append({"content_type": self.headers["Content-Type"],
                             "body": json.loads(self.rfile.read(length))})
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/hooks/T000/B000", received
    finally:
        server.shutdown()
        server.server_close()


def test_a_notification_posts_slack_compatible_json_without_the_password() -> None:
    with webhook_receiver() as (url, received):
        result = notify(url, f"release r-1 started on postgres://app:{CANARY_PASSWORD}@db/app",
                        {"release_id": "r-1", "database": f"postgres://app:{CANARY_PASSWORD}@db/app"},
                        secrets=[CANARY_PASSWORD])
    assert result.ok and result.detail == "HTTP 200"
    assert len(received) == 1 and received[0]["content_type"] == "application/json"
    body = received[0]["body"]
    assert body["text"] == "release r-1 started on postgres://app:xxxxx@db/app"
    assert body["safemigrate"]["release_id"] == "r-1"
    assert CANARY_PASSWORD not in json.dumps(body)


def test_a_failing_notification_is_reported_and_never_raises() -> None:
    with webhook_receiver(status=500) as (url, _received):
        assert notify(url, "x", {}).to_dict()["detail"] == "HTTP 500"
    gone = notify(closed_port_url(), "x", {}, timeout=1)
    assert not gone.ok and gone.detail.startswith("no answer")


def test_child_environment_drops_every_secret_variable() -> None:
    from safemigrate.childenv import child_environment

    base = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": "x", "MYSQL_PWD": "y", "PGPASSWORD": "z",
            "SAFEMIGRATE_DATABASE_URL": "w", "STAGING_URL": "v", "LANG": "C"}
    env = child_environment({"SAFEMIGRATE_PHASE": "before"}, named_secrets=frozenset({"STAGING_URL"}),
                            base=base)
    assert env == {"PATH": base["PATH"], "LANG": "C", "SAFEMIGRATE_PHASE": "before"}


def test_child_environment_drops_any_variable_holding_a_known_password() -> None:
    from safemigrate.childenv import child_environment

    base = {"MY_APP_DB": f"postgres://app:{CANARY_PASSWORD}@db/app", "OTHER": "fine"}
    assert child_environment(secret_values=[CANARY_PASSWORD], base=base) == {"OTHER": "fine"}
