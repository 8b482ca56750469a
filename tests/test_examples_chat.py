"""examples/chat: the runbook's project to copy from. Its Makefile runs against a real PostgreSQL,
its workflow and Kubernetes manifests parse and hold what they promise, and every safemigrate
command they contain exists. The root .pre-commit-hooks.yaml runs under pre-commit itself."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from cli_commands import check_command
from support import REPO, assert_no_secret, run_cli

CHAT = REPO / "examples" / "chat"
NEWEST = max(int(p.name.split("_")[0]) for p in (CHAT / "migrations").glob("*.up.sql"))


def make(folder: Path, *targets: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run(["make", "--no-print-directory", "-C", str(folder), *targets], env=env,
                          capture_output=True, text=True, timeout=120)
    assert_no_secret(proc.stdout, proc.stderr)
    return proc


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example, as a team would start from it (make writes backups/ into it)."""
    if shutil.which("make") is None:
        pytest.skip("make is not installed")
    return Path(shutil.copytree(CHAT, tmp_path / "chat"))


def make_env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.endswith("DATABASE_URL")}
    # The safemigrate of this checkout, as `pip install .` or an activated .venv would provide it.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env.update(extra)
    return env


# -- the Makefile ------------------------------------------------------------------------------
@pytest.mark.postgres
def test_make_migrate_up_and_version_against_postgres(project: Path, pg_url: str) -> None:
    # The issue's acceptance command as written: make -C examples/chat migrate-up migrate-version
    # (these two targets write nothing into the folder; the others run on a copy).
    env = make_env(DATABASE_URL=pg_url)
    before = sorted(p.relative_to(CHAT) for p in CHAT.rglob("*"))
    proc = make(CHAT, "migrate-up", "migrate-version", env=env)
    assert sorted(p.relative_to(CHAT) for p in CHAT.rglob("*")) == before
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().splitlines()[-1] == str(NEWEST)
    assert "4/u add_last_seen" in proc.stdout  # the runbook's own file, its index built concurrently


@pytest.mark.postgres
def test_make_targets_keep_the_runbook_meaning(project: Path, pg_url: str) -> None:
    env = make_env(DATABASE_URL=pg_url)

    def ok(*targets: str) -> str:
        proc = make(project, *targets, env=env)
        assert proc.returncode == 0, proc.stdout + proc.stderr
        return proc.stdout

    ok("migrate-up")
    assert ok("migrate-down", "migrate-version").strip().endswith("3")  # one step down
    assert ok("check", "V=3").strip().endswith("ok: the database is at version 3")
    assert make(project, "check", "V=4", env=env).returncode != 0
    assert ok("migrate-goto", "V=1", "migrate-version").strip().endswith("1")
    assert ok("migrate-force", "V=4", "migrate-version").strip().endswith("4")
    ok("migrate-create", "NAME=add_reactions")
    assert sorted(p.name for p in (project / "migrations").glob("000005_*")) == [
        "000005_add_reactions.down.sql", "000005_add_reactions.up.sql"]
    assert "no findings" in ok("lint") or "0 errors" in ok("lint")
    # Missing arguments: a usage line, exit 2 from make's recipe, nothing run.
    missing = make(project, "migrate-force", env=env)
    assert missing.returncode != 0 and "usage: make migrate-force V=VERSION" in missing.stderr


@pytest.mark.postgres
def test_make_backup_takes_a_verified_backup_and_applies_the_retention(project: Path, pg_url: str) -> None:
    env = make_env(DATABASE_URL=pg_url)
    assert make(project, "migrate-up", env=env).returncode == 0
    proc = make(project, "backup", env=env)
    assert proc.returncode == 0, proc.stderr
    assert "verified (full)" in proc.stdout and "policy: 7 daily, 4 weekly, 12 monthly" in proc.stdout
    listed = run_cli("backup", "list", "--to", str(project / "backups"), "--format", "json")
    backups = listed.json()["backups"]
    assert [(b["verification"], b["schema_version"]) for b in backups] == [("verified", NEWEST)]


@pytest.mark.postgres
def test_make_release_on_staging_runs_the_procedure_with_its_health_gate(project: Path, pg_url: str,
                                                                          tmp_path: Path) -> None:
    from safemigrate.demo.app import ChatApp

    # Staging runs the app at version 3; the release brings it to the newest version.
    assert run_cli("-path", str(project / "migrations"), "-database", pg_url, "up", "3").exit_code == 0
    env = make_env(STAGING_DATABASE_URL=pg_url)
    app = ChatApp(pg_url, range(3, NEWEST + 1)).start()
    try:
        args = (f"--health-url {app.url} --health-interval 0.05 --backup-location {tmp_path / 'b'} "
                "--report releases")
        proc = make(project, "release", f"ARGS={args}", env=env)
    finally:
        app.stop()
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert f"released: version 3 → {NEWEST}, healthy" in proc.stdout
    assert run_cli("-database", pg_url, "check", "--expect", str(NEWEST)).exit_code == 0


def test_makefile_has_the_runbook_targets() -> None:
    text = (CHAT / "Makefile").read_text()
    targets = {line.split(":")[0] for line in text.splitlines() if line and not line[0].isspace()
               and ":" in line and not line.startswith(("#", ".", "release: ENV")) and "=" not in line.split(":")[0]}
    assert {"migrate-version", "migrate-up", "migrate-down", "migrate-create", "migrate-force", "migrate-goto",
            "lint", "backup", "release", "check"} <= targets


def test_every_safemigrate_command_in_the_makefile_exists() -> None:
    proc = subprocess.run(["make", "-n", "-C", str(CHAT), "migrate-version", "migrate-up", "migrate-down",
                           "migrate-create", "NAME=x", "migrate-force", "V=1", "migrate-goto", "lint", "backup",
                           "release", "check"], capture_output=True, text=True, env=make_env())
    lines = [line for line in proc.stdout.splitlines() if line.startswith("safemigrate ")]
    assert len(lines) >= 10
    for line in lines:
        argv = line.split()[1:]
        assert check_command(argv) is None, line


# -- safemigrate.toml --------------------------------------------------------------------------
def test_the_config_has_staging_and_production_with_the_runbook_retention() -> None:
    env = {"STAGING_DATABASE_URL": "postgres://app@staging-db:5432/chat",
           "PRODUCTION_DATABASE_URL": "postgres://app@prod-db:5432/chat"}
    for name, host in (("staging", "staging-db"), ("production", "prod-db")):
        result = run_cli("--config", str(CHAT / "safemigrate.toml"), "config", "show", "--env", name,
                         "--format", "json", env={**os.environ, **env})
        assert result.exit_code == 0, result.output
        text = json.dumps(result.json())
        assert host in text and f"s3://chat-backups/{name}" in text
    config = tomllib.loads((CHAT / "safemigrate.toml").read_text())
    assert (config["backup"]["keep_daily"], config["backup"]["keep_weekly"],
            config["backup"]["keep_monthly"]) == (7, 4, 12)
    assert config["env"]["production"]["release"]["require_env"] == "staging"


# -- the GitHub Actions workflow ---------------------------------------------------------------
def _workflow() -> dict[str, Any]:
    data: dict[Any, Any] = yaml.safe_load((CHAT / ".github" / "workflows" / "migrations.yml").read_text())
    # YAML 1.1 reads the key `on` as the boolean true; GitHub reads it as "on".
    if True in data:
        data["on"] = data.pop(True)
    return data


WORKFLOW_SCHEMA = {
    "type": "object",
    "required": ["name", "on", "jobs", "permissions"],
    "properties": {
        "on": {"type": "object", "required": ["pull_request"]},
        "permissions": {"type": "object", "required": ["security-events"],
                        "properties": {"security-events": {"const": "write"}}},
        "jobs": {"type": "object", "minProperties": 1, "additionalProperties": {
            "type": "object", "required": ["runs-on", "steps"],
            "properties": {"steps": {"type": "array", "items": {
                "type": "object", "oneOf": [{"required": ["uses"]}, {"required": ["run"]}]}}}}},
    },
}


def test_the_workflow_lints_pull_requests_and_uploads_sarif() -> None:
    workflow = _workflow()
    jsonschema.validate(workflow, WORKFLOW_SCHEMA)
    assert "migrations/**" in workflow["on"]["pull_request"]["paths"]
    steps = workflow["jobs"]["lint"]["steps"]
    lint = next(s for s in steps if "--format sarif" in s.get("run", ""))
    sarif_file = lint["run"].split(">")[-1].strip()
    upload = next(s for s in steps if s.get("uses", "").startswith("github/codeql-action/upload-sarif@"))
    assert upload["with"]["sarif_file"] == sarif_file
    assert upload["if"] == "always()"  # findings are uploaded even when lint fails
    assert lint.get("continue-on-error") is True
    assert steps.index(lint) < steps.index(upload)
    for step in steps:
        if step.get("run", "").startswith("safemigrate"):
            argv = step["run"].split(">")[0].split()[1:]
            assert check_command(argv) is None, step["run"]


def test_the_workflows_sarif_command_writes_sarif(tmp_path: Path) -> None:
    result = run_cli("-path", str(CHAT / "migrations"), "lint", "--format", "sarif")
    sarif = json.loads(result.stdout)
    assert sarif["version"] == "2.1.0" and sarif["runs"][0]["tool"]["driver"]["name"] == "safemigrate"


# -- the Kubernetes manifests ------------------------------------------------------------------
CONTAINER = {"type": "object", "required": ["name", "image", "command"],
             "properties": {"command": {"type": "array", "items": {"type": "string"}, "minItems": 1}}}
POD_SPEC = {"type": "object", "required": ["containers"],
            "properties": {"containers": {"type": "array", "minItems": 1, "items": CONTAINER},
                           "initContainers": {"type": "array", "items": CONTAINER}}}
OBJECT = {"type": "object", "required": ["apiVersion", "kind", "metadata", "spec"],
          "properties": {"metadata": {"type": "object", "required": ["name"],
                                      "properties": {"name": {"type": "string", "pattern": "^[a-z0-9-]+$"}}}}}
SCHEMAS: dict[str, dict[str, Any]] = {
    "Job": {"allOf": [OBJECT, {"properties": {"apiVersion": {"const": "batch/v1"}, "spec": {
        "type": "object", "required": ["template"], "properties": {"template": {
            "type": "object", "required": ["spec"], "properties": {"spec": {"allOf": [POD_SPEC, {
                "required": ["restartPolicy"],
                "properties": {"restartPolicy": {"enum": ["Never", "OnFailure"]}}}]}}}}}}}]},
    "CronJob": {"allOf": [OBJECT, {"properties": {"apiVersion": {"const": "batch/v1"}, "spec": {
        "type": "object", "required": ["schedule", "jobTemplate"]}}}]},
    "Deployment": {"allOf": [OBJECT, {"properties": {"apiVersion": {"const": "apps/v1"}, "spec": {
        "type": "object", "required": ["selector", "template"], "properties": {"template": {
            "type": "object", "required": ["metadata", "spec"], "properties": {"spec": POD_SPEC}}}}}}]},
}


def _manifests() -> dict[str, dict[str, Any]]:
    objects: dict[str, dict[str, Any]] = {}
    for path in sorted((CHAT / "k8s").glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                jsonschema.validate(doc, SCHEMAS[doc["kind"]])
                objects[doc["kind"]] = doc
    return objects


def _safemigrate_commands(pod: dict[str, Any]) -> list[list[str]]:
    return [c["command"] for c in pod.get("initContainers", []) + pod["containers"]
            if c["command"][0] == "safemigrate"]


def test_the_manifests_parse_and_have_their_required_fields() -> None:
    assert sorted(_manifests()) == ["CronJob", "Deployment", "Job"]


def test_the_migration_job_is_a_helm_pre_upgrade_and_argo_cd_presync_hook_running_release() -> None:
    job = _manifests()["Job"]
    annotations = job["metadata"]["annotations"]
    assert "pre-upgrade" in annotations["helm.sh/hook"].split(",")
    assert annotations["argocd.argoproj.io/hook"] == "PreSync"
    assert annotations["helm.sh/hook-delete-policy"] and annotations["argocd.argoproj.io/hook-delete-policy"]
    assert job["spec"]["backoffLimit"] == 0  # a failed release is never re-run blindly
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert _safemigrate_commands(pod) == [["safemigrate", "--env", "production", "release"]]
    env = {e["name"] for e in pod["containers"][0]["env"]}
    assert "PRODUCTION_DATABASE_URL" in env  # the variable safemigrate.toml names for production


def test_the_deployment_checks_the_schema_in_an_init_container() -> None:
    deployment = _manifests()["Deployment"]
    spec = deployment["spec"]
    assert spec["selector"]["matchLabels"].items() <= spec["template"]["metadata"]["labels"].items()
    init = spec["template"]["spec"]["initContainers"]
    assert init[0]["command"] == ["safemigrate", "check", "--expect", str(NEWEST)]


def test_the_backup_cronjob_runs_daily_at_2am_utc_with_the_7_4_12_retention() -> None:
    cron = _manifests()["CronJob"]
    assert cron["spec"]["schedule"] == "0 2 * * *" and cron["spec"]["timeZone"] == "Etc/UTC"
    assert cron["spec"]["concurrencyPolicy"] == "Forbid"
    pod = cron["spec"]["jobTemplate"]["spec"]["template"]["spec"]
    create, prune = _safemigrate_commands(pod)
    assert create[create.index("backup") + 1] == "create" and "--verify" in create
    assert prune[prune.index("backup") + 1] == "prune"
    retention = {prune[i]: prune[i + 1] for i in range(len(prune) - 1) if prune[i].startswith("--keep-")}
    assert retention == {"--keep-daily": "7", "--keep-weekly": "4", "--keep-monthly": "12"}


def test_every_safemigrate_command_in_the_manifests_exists() -> None:
    objects = _manifests()
    pods = [objects["Job"]["spec"]["template"]["spec"], objects["Deployment"]["spec"]["template"]["spec"],
            objects["CronJob"]["spec"]["jobTemplate"]["spec"]["template"]["spec"]]
    for pod in pods:
        for command in _safemigrate_commands(pod):
            assert check_command(command[1:]) is None, command


# -- the pre-commit hook -----------------------------------------------------------------------
@pytest.mark.slow
def test_the_pre_commit_hook_runs_under_pre_commit(tmp_path: Path) -> None:
    pre_commit = shutil.which("pre-commit", path=str(Path(sys.executable).parent))
    if pre_commit is None:
        pytest.skip("pre-commit is not installed (it is in the test extra: pip install -e '.[test]')")
    project = tmp_path / "project"
    (project / "migrations").mkdir(parents=True)
    env = {**os.environ, "PRE_COMMIT_HOME": str(tmp_path / "cache"), "GIT_AUTHOR_NAME": "t",
           "GIT_AUTHOR_EMAIL": "t@example.com", "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, env=env)
    shutil.copy(CHAT / "migrations" / "000003_create_messages.up.sql", project / "migrations")
    shutil.copy(CHAT / "migrations" / "000003_create_messages.down.sql", project / "migrations")
    (project / "migrations" / "000005_drop_rooms.up.sql").write_text("DROP TABLE rooms;\n")
    (project / "migrations" / "000005_drop_rooms.down.sql").write_text("CREATE TABLE rooms (id bigint);\n")
    (project / "notes.sql").write_text("DROP TABLE rooms;\n")  # not a migration: the hook skips it
    subprocess.run(["git", "add", "."], cwd=project, check=True, env=env)

    def hook(*files: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([pre_commit, "try-repo", str(REPO), "safemigrate-lint", "--files", *files],
                              cwd=project, env=env, capture_output=True, text=True, timeout=600)

    clean = hook("migrations/000003_create_messages.up.sql", "migrations/000003_create_messages.down.sql",
                 "notes.sql")
    assert clean.returncode == 0, clean.stdout + clean.stderr
    bad = hook("migrations/000005_drop_rooms.up.sql", "migrations/000005_drop_rooms.down.sql")
    assert bad.returncode == 1, bad.stdout + bad.stderr
    assert "error[drop-table]" in bad.stdout and "notes.sql" not in bad.stdout


def test_the_example_project_migrations_are_the_ones_the_demo_ships() -> None:
    # Two copies on purpose: the demo's are in the wheel, the example's are a project to copy.
    # They must not drift apart, or the demo would show a project that differs from the example.
    shipped = REPO / "src" / "safemigrate" / "demo" / "chat" / "postgres"
    example = {p.name: p.read_bytes() for p in (CHAT / "migrations").iterdir()}
    assert example == {p.name: p.read_bytes() for p in shipped.iterdir() if p.suffix == ".sql"}
