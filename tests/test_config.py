"""One configuration: safemigrate.toml, [env.NAME], environment variables and flags."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from safemigrate.config import load_config
from safemigrate.errors import UsageError
from support import CANARY_PASSWORD

PROJECT = """\
path = "db/migrations"
lock_timeout = 20

[lint]
ignore = ["prefer-identity"]

[backup]
location = "s3://backups/chat"

[env.staging]
database_url_env = "STAGING_URL"

[env.production]
database_url_env = "PRODUCTION_URL"
lock_timeout = 5

[env.production.backup]
keep_daily = 14
"""


def write(folder: Path, text: str, name: str = "safemigrate.toml") -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_defaults_apply_without_a_configuration_file(tmp_path: Path) -> None:
    config = load_config(environ={}, start=tmp_path)
    assert config.file is None
    assert (config.migrations_path, config.lock_timeout, config.database_url) == ("migrations", 15, None)
    assert config.origin("lock_timeout") == "default"
    assert config.backup("keep_daily") == 7


def test_precedence_is_flag_then_environment_then_env_section_then_top_level(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    environ = {"PRODUCTION_URL": "postgres://prod/app"}
    top = load_config(environ=environ, start=tmp_path)
    assert (top.lock_timeout, top.origin("lock_timeout")) == (20, "safemigrate.toml")

    section = load_config(env="production", environ=environ, start=tmp_path)
    assert (section.lock_timeout, section.origin("lock_timeout")) == (5, "safemigrate.toml [env.production]")

    variable = load_config(env="production", environ={**environ, "SAFEMIGRATE_LOCK_TIMEOUT": "9"},
                           start=tmp_path)
    assert (variable.lock_timeout, variable.origin("lock_timeout")) == (9, "$SAFEMIGRATE_LOCK_TIMEOUT")

    flag = load_config(env="production", environ={**environ, "SAFEMIGRATE_LOCK_TIMEOUT": "9"},
                       flags={"lock_timeout": 2}, start=tmp_path)
    assert (flag.lock_timeout, flag.origin("lock_timeout")) == (2, "flag")


def test_env_section_is_chosen_by_safemigrate_env(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    config = load_config(environ={"SAFEMIGRATE_ENV": "staging", "STAGING_URL": "postgres://staging/app"},
                         start=tmp_path)
    assert config.env == "staging"
    assert config.database_url == "postgres://staging/app"
    assert config.origin("database_url") == "$STAGING_URL (named by safemigrate.toml [env.staging])"


def test_database_url_in_the_shell_does_not_override_the_chosen_environment(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    environ = {"DATABASE_URL": "postgres://prod/app", "STAGING_URL": "postgres://staging/app"}
    assert load_config(env="staging", environ=environ, start=tmp_path).database_url == "postgres://staging/app"


def test_safemigrate_database_url_and_the_flag_override_the_environment_section(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    environ = {"STAGING_URL": "postgres://staging/app", "SAFEMIGRATE_DATABASE_URL": "postgres://other/x"}
    assert load_config(env="staging", environ=environ, start=tmp_path).database_url == "postgres://other/x"
    flagged = load_config(env="staging", environ=environ, flags={"database_url": "sqlite3://a.db"},
                          start=tmp_path)
    assert (flagged.database_url, flagged.origin("database_url")) == ("sqlite3://a.db", "flag")


def test_database_url_is_the_default_when_nothing_else_names_a_database(tmp_path: Path) -> None:
    config = load_config(environ={"DATABASE_URL": "postgres://h/app"}, start=tmp_path)
    assert (config.database_url, config.origin("database_url")) == ("postgres://h/app", "$DATABASE_URL")


def test_an_unset_database_url_env_is_an_error_naming_the_variable(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    with pytest.raises(UsageError, match=r"\$PRODUCTION_URL is not set") as caught:
        load_config(env="production", environ={}, start=tmp_path)
    assert caught.value.exit_code == 2
    assert "PRODUCTION_URL" in (caught.value.hint or "")


def test_an_unknown_environment_lists_the_defined_ones(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    with pytest.raises(UsageError, match=r"no \[env.prod\] section") as caught:
        load_config(env="prod", environ={}, start=tmp_path)
    assert caught.value.hint == "environments defined: production, staging"


def test_an_environment_without_a_configuration_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="no configuration file"):
        load_config(env="staging", environ={}, start=tmp_path)


@pytest.mark.parametrize(("text", "message"), [
    ("lock_timout = 3\n", r"unknown setting 'lock_timout'"),
    ("lock_timeout = 'ten'\n", r"lock_timeout must be a whole number"),
    ("lock_timeout = true\n", r"lock_timeout must be a whole number"),
    ("lock_timeout = -1\n", r"lock_timeout must be between 0 and 86400"),
    ("[env.staging]\npath = 3\n", r"\[env.staging\]: path must be a string"),
    ("[backup]\nkeep_daily = 'x'\n", r"\[backup\]: keep_daily must be a whole number"),
    ("[releases]\nx = 1\n", r"unknown section \[releases\]"),
    ("[lint]\nfail-on = 'sometimes'\n", r"fail-on must be"),
    ("path = \n", r"not valid TOML"),
])
def test_a_wrong_setting_is_a_usage_error_naming_the_file_and_key(tmp_path: Path, text: str,
                                                                  message: str) -> None:
    write(tmp_path, text)
    with pytest.raises(UsageError, match=message) as caught:
        load_config(env="staging" if "env.staging" in text else None, environ={}, start=tmp_path)
    assert "safemigrate.toml" in caught.value.message


def test_the_migrations_path_is_relative_to_the_configuration_file(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    nested = tmp_path / "services" / "chat"
    nested.mkdir(parents=True)
    config = load_config(environ={}, start=nested)
    assert config.file == tmp_path / "safemigrate.toml"
    assert config.migrations_path == str(tmp_path / "db" / "migrations")
    # From a flag it is the user's own path, as typed.
    assert load_config(environ={}, flags={"path": "m"}, start=nested).migrations_path == "m"


def test_pyproject_tool_table_is_read(tmp_path: Path) -> None:
    write(tmp_path, "[project]\nname = 'x'\n\n[tool.safemigrate]\nlock_timeout = 3\n", "pyproject.toml")
    config = load_config(environ={}, start=tmp_path)
    assert (config.lock_timeout, config.origin("lock_timeout")) == (3, "pyproject.toml [tool.safemigrate]")


def test_env_lint_and_backup_tables_merge_over_the_top_level(tmp_path: Path) -> None:
    write(tmp_path, PROJECT)
    config = load_config(env="production", environ={"PRODUCTION_URL": "postgres://p/a"}, start=tmp_path)
    assert config.backup("keep_daily") == 14
    assert config.origin("backup.keep_daily") == "safemigrate.toml [env.production] [backup]"
    assert config.backup("location") == "s3://backups/chat"
    assert config.lint.ignore == frozenset({"prefer-identity"})


def test_an_explicit_configuration_file_that_does_not_exist_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(UsageError, match="does not exist"):
        load_config(config_file=tmp_path / "nope.toml", environ={})


def test_shown_values_mask_the_password(tmp_path: Path) -> None:
    url = f"postgres://app:{CANARY_PASSWORD}@db:5432/app"
    config = load_config(environ={"DATABASE_URL": url}, start=tmp_path)
    shown = {name: value for name, value, _origin in config.shown()}
    assert CANARY_PASSWORD not in repr(config.to_dict())
    assert shown["database_url"].startswith("postgres://app:")
    assert "db:5432/app" in shown["database_url"]
    assert CANARY_PASSWORD not in repr(config)


def test_config_show_prints_each_value_with_its_origin_and_masks_the_password(tmp_path: Path) -> None:
    from support import run_cli

    write(tmp_path, PROJECT)
    url = f"postgres://app:{CANARY_PASSWORD}@db:5432/app"
    env = {"PRODUCTION_URL": url, "SAFEMIGRATE_LOCK_TIMEOUT": ""}
    result = run_cli("config", "show", "--env", "production", env=env, cwd=tmp_path)
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
    assert lines["lock_timeout"].endswith("(safemigrate.toml [env.production])")
    assert "db:5432/app" in lines["database_url"]
    assert "(named by safemigrate.toml [env.production])" in lines["database_url"]

    as_json = run_cli("config", "show", "--env", "production", "--format", "json", env=env, cwd=tmp_path)
    data = as_json.json()
    assert data["env"] == "production"
    assert data["settings"]["backup.keep_daily"] == {"value": "14",
                                                     "origin": "safemigrate.toml [env.production] [backup]"}


def test_config_show_with_an_unknown_environment_exits_2_with_the_defined_ones(tmp_path: Path) -> None:
    from support import run_cli

    write(tmp_path, PROJECT)
    result = run_cli("config", "show", "--env", "prod", cwd=tmp_path)
    assert result.exit_code == 2
    assert "no [env.prod] section" in result.stderr
    assert "production, staging" in result.stderr


def test_up_with_env_uses_that_environments_database_and_the_files_path(tmp_path: Path) -> None:
    import sqlite3

    from support import run_cli

    folder = tmp_path / "db" / "migrations"
    folder.mkdir(parents=True)
    (folder / "1_users.up.sql").write_text("CREATE TABLE users (id integer);\n")
    (folder / "1_users.down.sql").write_text("DROP TABLE users;\n")
    write(tmp_path, 'path = "db/migrations"\n\n[env.staging]\ndatabase_url_env = "STAGING_URL"\n')
    staging, shell = tmp_path / "staging.db", tmp_path / "shell.db"
    env = {"STAGING_URL": f"sqlite3://{staging}", "DATABASE_URL": f"sqlite3://{shell}"}

    result = run_cli("up", "--env", "staging", env=env, cwd=tmp_path / "db")
    assert result.exit_code == 0, result.output
    with sqlite3.connect(staging) as conn:
        assert conn.execute("SELECT version, dirty FROM schema_migrations").fetchall() == [(1, 0)]
    assert not shell.exists()  # $DATABASE_URL in the shell was not used
    version = run_cli("version", "--env", "staging", env=env, cwd=tmp_path)
    assert (version.exit_code, version.stdout.strip()) == (0, "1")


TOOL_TABLE_SPELLINGS = [
    "[tool.safemigrate]\nlock_timeout = 3\n",
    "[ tool . \"safemigrate\" ]\nlock_timeout = 3\n",
    "[tool.'safemigrate']\nlock_timeout = 3\n",
    "[tool]\nsafemigrate = { lock_timeout = 3 }\n",
    "[tool]\nsafemigrate.lock_timeout = 3\n",
    "tool.safemigrate.lock_timeout = 3\n",
    "tool = { safemigrate = { lock_timeout = 3 } }\n",
    "\"tool\".'safemigrate'.lock_timeout = 3\n",
    "\"\\u0074ool\".safemigrate.lock_timeout = 3\n",
    "[tool.safemigrate.env.staging]\nlock_timeout = 4\n[tool.safemigrate]\nlock_timeout = 3\n",
]


@pytest.mark.parametrize("text", TOOL_TABLE_SPELLINGS)
def test_every_toml_spelling_of_the_tool_table_is_read(tmp_path: Path, text: str) -> None:
    write(tmp_path, text + "\n[project]\nname = 'app'\n", "pyproject.toml")  # root-level keys first
    config = load_config(start=tmp_path, environ={})
    assert (config.lock_timeout, config.origin("lock_timeout")) == (3, "pyproject.toml [tool.safemigrate]")


def test_a_pyproject_that_only_names_safemigrate_is_not_parsed(tmp_path: Path) -> None:
    """A dependency, a script or the project's name is not the table: the file is not parsed
    (tomllib is not even imported), and the defaults apply."""
    write(tmp_path, "[project]\nname = 'safemigrate-demo'\ndependencies = ['safemigrate>=1']\n\n"
          "[project.scripts]\nsafemigrate = 'safemigrate.cli:main'\n\n[tool.ruff]\nline-length = 120\n",
          "pyproject.toml")
    code = ("import sys; from pathlib import Path; from safemigrate.config import load_config; "
            f"c = load_config(start=Path({str(tmp_path)!r}), environ={{}}); "
            "print(c.file, c.origin('lock_timeout'), 'tomllib' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["None", "default", "False"]


def test_the_engine_and_the_configuration_share_one_lock_timeout_default(tmp_path: Path) -> None:
    import inspect

    from safemigrate.config import DEFAULT_LOCK_TIMEOUT, load_config
    from safemigrate.engine import Migrator

    engine_default = inspect.signature(Migrator).parameters["lock_timeout"].default
    assert engine_default is DEFAULT_LOCK_TIMEOUT  # the same object: written once, in config.py
    assert load_config(environ={}, flags={}, start=tmp_path).lock_timeout == DEFAULT_LOCK_TIMEOUT
