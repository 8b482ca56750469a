"""Commands import only what they need: most deploys run `up` with nothing pending, and health
checks run `version`, so their start-up is what people wait for. The SQL parser (pglast), rich and
the linter load only once a pending file needs them; `version` does not even load click."""

from __future__ import annotations

import ast
import os
import subprocess
import sys
from pathlib import Path

import pytest

from support import assert_no_secret, run_cli, write_migrations

pytestmark = pytest.mark.postgres

HEAVY = ("pglast", "rich", "safemigrate.lint", "boto3", "zstandard")


def imported_modules(*args: str) -> tuple[set[str], str]:
    """The modules a ``safemigrate`` process imports (from -X importtime) and its stdout."""
    env = {**os.environ, "PYTHONPROFILEIMPORTTIME": "1"}
    proc = subprocess.run([sys.executable, "-m", "safemigrate", *args], capture_output=True, text=True,
                          env=env, timeout=120)
    assert_no_secret(proc.stdout, proc.stderr)
    assert proc.returncode == 0, proc.stderr[-2000:]
    modules = {line.rsplit("|", 1)[1].strip() for line in proc.stderr.splitlines()
               if line.startswith("import time:") and "|" in line}
    return modules, proc.stdout


def heavy(modules: set[str]) -> set[str]:
    return {m for m in modules if m.split(".")[0] in HEAVY or m.startswith(HEAVY)}


@pytest.fixture
def up_to_date(pg_url: str, tmp_path: Path) -> tuple[str, ...]:
    folder = write_migrations(tmp_path / "m", {
        "1_users.up.sql": "CREATE TABLE users (id bigint PRIMARY KEY);\n",
        "1_users.down.sql": "DROP TABLE users;\n",
        "2_email.up.sql": "ALTER TABLE users ADD COLUMN email text;\n",
    })
    args = ("-path", str(folder), "-database", pg_url)
    assert run_cli(*args, "up").exit_code == 0
    return args


def test_up_with_nothing_pending_loads_no_parser_linter_or_rich(up_to_date: tuple[str, ...]) -> None:
    modules, stdout = imported_modules(*up_to_date, "up")
    assert "no change" in stdout
    assert "psycopg" in modules  # the measurement sees real imports
    assert heavy(modules) == set()
    # Neither click (the plain `up` is read without it) nor the status module (only status uses it).
    assert {"click", "safemigrate.cli.app", "safemigrate.status"} & modules == set()


def test_up_with_nothing_pending_builds_no_event(up_to_date: tuple[str, ...]) -> None:
    # The terminal's output is a sink of the run's events, and it does not listen to a run's start
    # and end: with nothing to apply, no event is built and the event classes are never loaded.
    modules, _ = imported_modules(*up_to_date, "up")
    assert "safemigrate.engine" in modules and "safemigrate.events" not in modules


@pytest.mark.parametrize("command", [["plan"], ["status"], ["status", "--exit-code"]])
def test_read_only_commands_on_an_up_to_date_database_load_no_parser_linter_or_rich(
        up_to_date: tuple[str, ...], command: list[str]) -> None:
    modules, _ = imported_modules(*up_to_date, *command)
    assert heavy(modules) == set()


def test_version_loads_neither_click_nor_the_engine(up_to_date: tuple[str, ...]) -> None:
    modules, stdout = imported_modules(*up_to_date, "version")
    assert stdout.strip() == "2"
    assert heavy(modules) == set()
    assert {"click", "safemigrate.engine", "safemigrate.source"} & modules == set()


def test_up_with_a_pending_file_does_load_the_linter(up_to_date: tuple[str, ...], tmp_path: Path) -> None:
    """The other side of the lazy imports: they are skipped, not lost."""
    folder = Path(up_to_date[1])
    (folder / "3_name.up.sql").write_text("ALTER TABLE users ADD COLUMN name text;\n")
    modules, _ = imported_modules(*up_to_date, "up")
    assert "safemigrate.lint" in modules
    (folder / "4_nick.up.sql").write_text("ALTER TABLE users ADD COLUMN nick text;\n")
    assert pglast_after(*up_to_date, "up")[0]["pglast.parser"] == "run"  # (importlib's import: no line above)


def pglast_after(*args: str) -> tuple[dict[str, str], str]:
    """Which of pglast's modules a command leaves loaded, run (whole, in a new process), or
    registered to run on first use, and its stdout. importlib's own imports, as pglast's parser
    is loaded, leave no -X importtime line."""
    script = (
        "import sys, types\n"
        "from safemigrate.cli import run\n"
        "code = run(sys.argv[1:])\n"
        "names = ('pglast', 'pglast.parser', 'pglast.enums', 'pglast.ast')\n"
        "print({n: 'absent' if n not in sys.modules else 'run' if type(sys.modules[n]) is types.ModuleType\n"
        "       and (n != 'pglast' or '__getattr__' not in vars(sys.modules[n])) else 'lazy' for n in names})\n"
        "sys.exit(code)\n"
    )
    proc = subprocess.run([sys.executable, "-c", script, *args], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
    *out, states = proc.stdout.splitlines()
    return ast.literal_eval(states), "\n".join(out)


def test_up_without_lint_loads_pglasts_parser_but_not_its_enums_or_ast(up_to_date: tuple[str, ...]) -> None:
    """The runner's split reads libpg_query's JSON tree: pglast's package, Enum classes and AST
    module (200 M instructions to import, more than the rest of `up --no-lint` of 100 migrations
    beyond `version`) are registered to run on first use, as for the linter, and never run."""
    folder = Path(up_to_date[1])
    (folder / "3_name.up.sql").write_text("ALTER TABLE users ADD COLUMN name text;\n")
    states, stdout = pglast_after(*up_to_date, "up", "--no-lint")
    assert "3/u name" in stdout
    # Before: {'pglast': 'run', ...: 'run'}: `from pglast import parser` ran pglast/__init__.py,
    # which imports every enum module.
    assert states == {"pglast": "lazy", "pglast.parser": "run", "pglast.enums": "lazy", "pglast.ast": "lazy"}


def test_pglast_works_whole_after_the_runner_split_a_file() -> None:
    script = (
        "import sys, types\n"
        "from safemigrate.sql.postgres import split_postgres\n"
        "script = split_postgres('CREATE INDEX CONCURRENTLY i ON t (a); SELECT 1;', nodes=False)\n"
        "assert [s.transactional for s in script.statements] == [False, True], script.statements\n"
        "assert type(sys.modules['pglast.enums']) is not types.ModuleType, 'pglast.enums ran'\n"
        "import pglast\n"
        "assert type(pglast.parse_sql('SELECT 1')[0].stmt).__name__ == 'SelectStmt'\n"
        "assert pglast.enums.SortByDir.SORTBY_ASC.name == 'SORTBY_ASC'\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=False, timeout=120)
    assert done.returncode == 0, done.stderr


def test_release_targets_and_recover_effects_read_sql_without_running_pglasts_enums_or_ast() -> None:
    """A release's pre-flight (the targets of a pending file) and recover's diagnosis (each
    statement's effects) parse with pglast's parser alone, as the runner does."""
    script = (
        "import sys, types\n"
        "from safemigrate.release.catalog import statement_targets\n"
        "from safemigrate.recover.effects import _postgres\n"
        "assert [t.kind for t in statement_targets('DROP TABLE users;')], 'no target'\n"
        "assert _postgres('CREATE TABLE t (id int)'), 'no effect'\n"
        "assert statement_targets('DROP TABLE (') == [] and _postgres('DROP TABLE (') is None\n"
        "lazy = {n: type(sys.modules[n]) is not types.ModuleType for n in ('pglast.enums', 'pglast.ast')}\n"
        "assert lazy == {'pglast.enums': True, 'pglast.ast': True}, lazy\n"
    )
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr[-2000:]
