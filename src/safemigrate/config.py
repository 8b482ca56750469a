"""One configuration: the project file, its environments, environment variables and flags.

The project file is ``safemigrate.toml`` (or ``.safemigrate.toml``, or the
``[tool.safemigrate]`` table of ``pyproject.toml``), the nearest one from the
current folder upwards, or the one ``--config`` / ``$SAFEMIGRATE_CONFIG`` names::

    path = "db/migrations"            # relative to the file's folder
    lock_timeout = 15

    [lint]
    ignore = ["prefer-identity"]

    [backup]
    location = "s3://backups.example.com/chat"

    [env.staging]
    database_url_env = "STAGING_DATABASE_URL"

    [env.production]
    database_url_env = "PRODUCTION_DATABASE_URL"
    lock_timeout = 5

Each value is resolved once, in this order (the first that says something wins):
flags, environment variables, the ``[env.NAME]`` section chosen with ``--env
NAME`` or ``$SAFEMIGRATE_ENV``, the file's top level, defaults. :class:`Config`
keeps where every value came from, for ``safemigrate config show``.

One deliberate exception, for safety: golang-migrate's ``$DATABASE_URL`` is a
default, not an override. When the chosen environment names its database,
a ``DATABASE_URL`` left in the shell (pointing at production, say) does not
silently win over ``--env staging``; ``$SAFEMIGRATE_DATABASE_URL`` is the
explicit override.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ._record import Record
from .errors import UsageError
from .redact import redact_url

if TYPE_CHECKING:  # the lint package is imported only when a file has a [lint] table
    from .lint.config import LintConfig

__all__ = [
    "CONFIG_FILE_NAMES",
    "Config",
    "ConfigValue",
    "find_config_file",
    "load_config",
]

CONFIG_FILE_NAMES = ("safemigrate.toml", ".safemigrate.toml")
CONFIG_ENV = "SAFEMIGRATE_CONFIG"
ENV_SELECTOR = "SAFEMIGRATE_ENV"
DATABASE_OVERRIDE_ENV = "SAFEMIGRATE_DATABASE_URL"
DEFAULT_LOCK_TIMEOUT = 15
DEFAULT_PATH = "migrations"


class _Key(Record, frozen=True):
    """One setting of the file: its type, its environment variable, and its default."""

    name: str
    kind: type
    env: str | None
    default: Any
    help: str
    maximum: int  # for whole numbers

    def __init__(self, name: str, kind: type, env: str | None = None, default: Any = None, help: str = "",
                 maximum: int = 1_000_000) -> None:
        self.__dict__.update(name=name, kind=kind, env=env, default=default, help=help, maximum=maximum)


# Settings that may appear at the top level and in every [env.NAME] section.
_KEYS: tuple[_Key, ...] = (
    _Key("database_url", str, help="the database URL (prefer database_url_env: no password in the file); "
         "$SAFEMIGRATE_DATABASE_URL overrides it, $DATABASE_URL is used only when nothing names a database"),
    _Key("database_url_env", str, help="the name of the environment variable holding the database URL (an error when it is unset)"),
    _Key("path", str, env="SAFEMIGRATE_PATH", default=DEFAULT_PATH,
         help="the migrations folder, relative to the configuration file (a -path flag: to the current folder)"),
    _Key("lock_timeout", int, env="SAFEMIGRATE_LOCK_TIMEOUT", default=DEFAULT_LOCK_TIMEOUT, maximum=86_400,
         help="seconds to wait for the migration lock and for locks on the version tables (0 to 86400)"),
    _Key("no_follow", bool, default=False,
         help="refuse symbolic links that leave the migrations folder (safer for untrusted branches)"),
)

# [backup] keys: the storage location and the retention policy.
_BACKUP_KEYS: tuple[_Key, ...] = (
    _Key("location", str, env="SAFEMIGRATE_BACKUP_STORAGE", default="backups",
         help="where backups are kept: a folder (relative to the configuration file) or s3://bucket/prefix"),
    _Key("s3_endpoint_url", str, env="SAFEMIGRATE_S3_ENDPOINT_URL",
         help="the URL of an S3-compatible endpoint (MinIO, Ceph, ...); not set: AWS S3"),
    _Key("work_dir", str, env="SAFEMIGRATE_WORK_DIR", help="a private scratch folder for S3 staging, downloads and decompressed copies; not set: $TMPDIR"),
    _Key("keep_daily", int, default=7, help="prune keeps the newest verified backup of each of the last N days that have one"),
    _Key("keep_weekly", int, default=4, help="prune keeps the newest verified backup of each of the last N ISO weeks that have one"),
    _Key("keep_monthly", int, default=12, help="prune keeps the newest verified backup of each of the last N months that have one"),
)

# [release] keys: everything `safemigrate release` takes as a flag, per environment.
_RELEASE_KEYS: tuple[_Key, ...] = (
    _Key("health_url", list, help="the health gate's URLs (--health-url): a 2xx answer is a success, a redirect a failure"),
    _Key("health_expect", list, help="PATH=VALUE conditions on the health URLs' JSON answer (--health-expect), e.g. $.schema_version=5"),
    _Key("health_cmd", list, help="the health gate's commands (--health-cmd): exit 0 is a success"),
    _Key("log_cmd", str, help="a command whose output the gate watches (--log-cmd), e.g. kubectl logs -f deployment/app"),
    _Key("log_fail_pattern", str, help="a regular expression: a line of log_cmd's output that matches it fails the gate (--log-fail-pattern)"),
    _Key("initial_delay", float, default=0.0, help="seconds from the apply to the gate's first measurement (--health-initial-delay)"),
    _Key("interval", float, default=5.0, help="seconds between two measurements of the gate (--health-interval)"),
    _Key("timeout", float, default=3.0, help="seconds one measurement may take before it counts as an error (--health-timeout)"),
    _Key("deadline", float, default=120.0, help="seconds after which a gate that neither passed nor failed is inconclusive (--health-deadline)"),
    _Key("success_threshold", int, default=3, help="successes in a row that pass the gate (--health-successes)"),
    _Key("failure_limit", int, default=3, help="failures, in all, that fail the gate (--health-failures)"),
    _Key("error_limit", int, default=4, help="errors (refused connection, timeout) in a row that count as one failure (--health-errors)"),
    _Key("on_failure", str, default="rollback", help="when the gate fails: rollback (the down files), restore (the backup too, if still unhealthy) "
         "or stop (leave it applied and hold)"),
    _Key("on_inconclusive", str, default="hold", help="when the gate is inconclusive: hold (leave it applied for a person, exit 3) or rollback"),
    _Key("before", list, help="commands run before the backup (--before), e.g. scaling the app down; one that fails refuses the release"),
    _Key("after", list, help="commands run at the end whatever the outcome, with $SAFEMIGRATE_OUTCOME set (--after)"),
    _Key("before_restore", list, help="commands run before the rollback ladder restores the backup (--before-restore)"),
    _Key("after_restore", list, help="commands run after the rollback ladder restored the backup (--after-restore)"),
    _Key("hook_timeout", float, default=300.0, help="seconds each hook may run before it is stopped and counts as failed (--hook-timeout)"),
    _Key("notify", list, help="Slack-compatible webhook URLs told of the start and the end (--notify); a failed one never fails the release"),
    _Key("report_dir", str, default="releases", help="the folder the release reports (ID.json, ID.md) are written to (--report)"),
    _Key("require_env", str, help="an environment of this file whose database must have released exactly these files first (--require-env)"),
    _Key("migration_lock_timeout", float, default=5.0, help="seconds a migration waits for a table lock before it is rolled back and tried again (--migration-lock-timeout)"),
    _Key("statement_timeout", float, help="seconds a migration statement may run (--statement-timeout); not set: the server's own"),
    _Key("retries", int, default=3, maximum=20, help="tries of a migration that hit migration_lock_timeout, with backoff (--retries, 0 to 20)"),
    _Key("allow_destructive", bool, default=False, help="release destructive statements (DROP, TRUNCATE, ...) that no ignore comment acknowledges (--allow-destructive)"),
    _Key("checks", dict, help="pre-flight check levels, NAME = \"error\" | \"warn\" | \"off\"; the names: "
         "connect, clean, lock, folder, down_files, lint, destructive, privileges, dependencies, table_sizes, "
         "blocking_sessions, replication, backup_location, dump_tools, report_dir, health, staging"),
    _Key("table_size_warn_mb", float, default=1024.0,
         help="pre-flight warns about a table rewritten or scanned from this size (MiB)"),
    _Key("table_rows_warn", int, default=1_000_000, maximum=10**15,
         help="pre-flight warns about a table rewritten or scanned from this many estimated rows"),
    _Key("replication_lag_warn", float, default=60.0, help="pre-flight warns about a replica this many seconds behind"),
    _Key("long_transaction_seconds", float, default=60.0,
         help="pre-flight names a session holding a lock on a table the release changes once its transaction is this "
              "many seconds old (idle in a transaction: at any age)"),
)
_CHOICES = {"on_failure": ("rollback", "restore", "stop"), "on_inconclusive": ("hold", "rollback")}

_SECTIONS = ("lint", "backup", "release", "env")


class ConfigValue(Record, frozen=True):
    """A resolved value and where it came from (``default``, a file and section, ``$VAR``, a flag)."""

    value: Any
    origin: str

    def __init__(self, value: Any, origin: str) -> None:
        self.__dict__.update(value=value, origin=origin)


class Config(Record, frozen=True):
    """Every setting a command needs, resolved once."""

    env: str | None
    file: Path | None
    values: Mapping[str, ConfigValue]
    lint_table: Mapping[str, Any]
    lint_where: str

    def __init__(self, env: str | None, file: Path | None, values: Mapping[str, ConfigValue],
                 lint_table: Mapping[str, Any] | None = None, lint_where: str = "lint config") -> None:
        self.__dict__.update(env=env, file=file, values=values, lint_table={} if lint_table is None else lint_table,
                             lint_where=lint_where)

    @property
    def lint(self) -> LintConfig:
        from .lint.config import LintConfig, config_from_mapping

        return config_from_mapping(self.lint_table, self.lint_where) if self.lint_table else LintConfig()

    def __repr__(self) -> str:  # never the raw URL: it may hold a password
        return f"Config(env={self.env!r}, file={self.file!r}, values={self.shown()!r})"

    def get(self, name: str) -> Any:
        return self.values[name].value

    def origin(self, name: str) -> str:
        return self.values[name].origin

    @property
    def database_url(self) -> str | None:
        value = self.values["database_url"].value
        return value if isinstance(value, str) and value else None

    @property
    def migrations_path(self) -> str:
        return str(self.values["path"].value)

    @property
    def lock_timeout(self) -> int:
        return int(self.values["lock_timeout"].value)

    @property
    def no_follow(self) -> bool:
        return bool(self.values["no_follow"].value)

    def backup(self, name: str) -> Any:
        return self.values[f"backup.{name}"].value

    def release(self, name: str) -> Any:
        return self.values[f"release.{name}"].value

    def shown(self) -> list[tuple[str, str, str]]:
        """(setting, value with any password masked, origin) for every setting, in a stable order."""
        rows = []
        for name, item in self.values.items():
            value = item.value
            if name == "database_url" and isinstance(value, str):
                text = redact_url(value)
            elif value is None:
                text = "(not set)"
            else:
                text = str(value)
            rows.append((name, text, item.origin))
        return rows

    def to_dict(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "file": str(self.file) if self.file else None,
            "settings": {name: {"value": None if text == "(not set)" else text, "origin": origin}
                         for name, text, origin in self.shown()},
        }


# -- finding and reading the file -------------------------------------------------------------

def find_config_file(start: Path | None = None) -> Path | None:
    """The nearest safemigrate.toml, .safemigrate.toml, or pyproject.toml with [tool.safemigrate]."""
    folder = (start or Path.cwd()).resolve()
    for candidate_dir in (folder, *folder.parents):
        for name in CONFIG_FILE_NAMES:
            candidate = candidate_dir / name
            if candidate.is_file():
                return candidate
        pyproject = candidate_dir / "pyproject.toml"
        if pyproject.is_file() and _may_hold_tool_table(pyproject.read_text("utf-8", errors="replace")):
            tool = _read_toml(pyproject).get("tool", {})
            if isinstance(tool, dict) and isinstance(tool.get("safemigrate"), dict):
                return pyproject
    return None


def _may_hold_tool_table(text: str) -> bool:
    """Whether a pyproject.toml may define [tool.safemigrate]; False only when it cannot.

    A project that merely names safemigrate (a dependency, a script, the project itself) is
    not parsed: tomllib and datetime cost every command 20 M instructions, the tenth of
    ``lint``'s start-up. The table can only come from a ``[tool]`` or ``[tool.safemigrate...]``
    header or from a key ``tool`` (dotted or an inline table); a ``\\u`` escape could spell
    either, so a file holding one is parsed.
    """
    if "safemigrate" not in text:
        return False
    if "\\u" in text or "\\U" in text:
        return True
    import re

    return re.search(r"""^[ \t]*(?:\[\[?[ \t]*["']?tool["']?[ \t]*(?:\]|\.[ \t]*["']?safemigrate["']?[ \t]*[\].])"""
                     r"""|["']?tool["']?[ \t]*[.=])""", text, re.MULTILINE) is not None


def _read_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a file to read

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})",
                         hint="fix the file, or point `config_file` at another one", settings=("config_file",)) from None
    except OSError as exc:
        raise UsageError(f"cannot read the configuration file {path}: {exc.strerror}") from None


def _file_table(path: Path) -> tuple[dict[str, Any], str]:
    data = _read_toml(path)
    if path.name == "pyproject.toml":
        table = data.get("tool", {}).get("safemigrate", {})
        return (table if isinstance(table, dict) else {}), f"{path.name} [tool.safemigrate]"
    return data, path.name


# -- checking a table -------------------------------------------------------------------------

def _type_name(kind: type) -> str:
    return {str: "a string", int: "a whole number", bool: "true or false", float: "a number of seconds",
            list: "a list", dict: "a table"}.get(kind, kind.__name__)


def _of_kind(value: Any, kind: type) -> bool:
    if isinstance(value, bool):
        return kind is bool  # true is not 1, and not a number of seconds
    if kind is float:
        return isinstance(value, int | float)
    if kind is list:
        # Strings, or (for commands) lists of strings.
        return isinstance(value, list) and all(
            isinstance(item, str) or (isinstance(item, list) and all(isinstance(x, str) for x in item))
            for item in value)
    return isinstance(value, kind)


def _check_release_value(name: str, value: Any, where: str) -> None:
    if name in _CHOICES and value not in _CHOICES[name]:
        raise UsageError(f"{where}: {name} must be one of {', '.join(_CHOICES[name])}, not {value!r}")
    if isinstance(value, float | int) and not isinstance(value, bool) and value < 0:
        raise UsageError(f"{where}: {name} must not be negative")
    if name == "checks":
        from .release.procedure import CHECKS

        for check, level in value.items():
            if check not in CHECKS:
                raise UsageError(f"{where}: unknown check {check!r}", hint="checks: " + ", ".join(CHECKS))
            if level not in ("error", "warn", "off"):
                raise UsageError(f"{where}: checks.{check} must be error, warn or off, not {level!r}")


def _checked(keys: tuple[_Key, ...], table: Mapping[str, Any], where: str,
             allowed_sections: tuple[str, ...]) -> dict[str, Any]:
    """The table's settings, each of the right type; an unknown key is an error that names the known ones."""
    by_name = {key.name: key for key in keys}
    result: dict[str, Any] = {}
    for name, value in table.items():
        if name in allowed_sections:
            continue
        key = by_name.get(name)
        if key is None:
            known = ", ".join([*by_name, *allowed_sections])
            raise UsageError(f"{where}: unknown setting {name!r}", hint=f"known settings: {known}")
        if not _of_kind(value, key.kind):
            raise UsageError(f"{where}: {name} must be {_type_name(key.kind)}, not {value!r}")
        if key.kind is int and not 0 <= value <= key.maximum:
            raise UsageError(f"{where}: {name} must be between 0 and {key.maximum}, not {value}")
        if keys is _RELEASE_KEYS:
            _check_release_value(name, value, where)
        result[name] = value
    return result


def _section(table: Mapping[str, Any], name: str, where: str) -> dict[str, Any]:
    value = table.get(name, {})
    if not isinstance(value, dict):
        raise UsageError(f"{where}: [{name}] must be a table")
    return value


# -- resolving --------------------------------------------------------------------------------

class _Layers(Record):
    """The settings each layer gives, lowest precedence first, with the layer's name."""

    layers: list[tuple[str, dict[str, Any]]]

    def __init__(self, layers: list[tuple[str, dict[str, Any]]] | None = None) -> None:
        self.layers = [] if layers is None else layers

    def resolve(self, name: str, default: Any) -> ConfigValue:
        chosen = ConfigValue(default, "default")
        for origin, values in self.layers:
            if name in values and values[name] is not None:
                chosen = ConfigValue(values[name], origin)
        return chosen


def load_config(
    *,
    env: str | None = None,
    config_file: str | Path | None = None,
    flags: Mapping[str, Any] | None = None,
    environ: Mapping[str, str] | None = None,
    start: Path | None = None,
) -> Config:
    """Resolve every setting once: flags > environment variables > [env.NAME] > top level > defaults.

    ``flags`` uses the setting names (``database_url``, ``path``, ``lock_timeout``,
    ``backup.location``, ...); a ``None`` flag says nothing.
    """
    environ = os.environ if environ is None else environ
    flags = dict(flags or {})
    env = env or environ.get(ENV_SELECTOR) or None
    explicit = config_file or environ.get(CONFIG_ENV) or None
    if explicit is not None:
        path: Path | None = Path(explicit)
        assert path is not None
        if not path.is_file():
            raise UsageError(f"the configuration file {str(path)!r} does not exist",
                             hint="check `config_file` or $SAFEMIGRATE_CONFIG", settings=("config_file",))
    else:
        path = find_config_file(start)

    top: dict[str, Any] = {}
    where = "defaults"
    if path is not None:
        top, where = _file_table(path)
    unknown_sections = [name for name, value in top.items()
                        if isinstance(value, dict) and name not in _SECTIONS]
    if unknown_sections:
        raise UsageError(f"{where}: unknown section [{unknown_sections[0]}]",
                         hint="known sections: " + ", ".join(f"[{s}]" for s in _SECTIONS))

    envs = _section(top, "env", where)
    env_table: dict[str, Any] = {}
    if env is not None:
        if path is None:
            raise UsageError(f"environment {env!r} was asked for, but there is no configuration file",
                             hint="create safemigrate.toml with an [env." + env + "] section, "
                             "or drop `env` / $SAFEMIGRATE_ENV", settings=("env",))
        if env not in envs:
            names = ", ".join(sorted(envs)) or "none"
            raise UsageError(f"{where} has no [env.{env}] section",
                             hint=f"environments defined: {names}")
        env_table = _section(envs, env, where)

    env_where = f"{where} [env.{env}]"
    layers = _Layers()
    layers.layers.append((where, _checked(_KEYS, top, where, _SECTIONS)))
    if env is not None:
        env_sections = ("lint", "backup", "release")
        bad = [name for name, value in env_table.items() if isinstance(value, dict) and name not in env_sections]
        if bad:
            raise UsageError(f"{env_where}: unknown section [{bad[0]}]",
                             hint="an environment may hold [lint], [backup] and [release] tables")
        layers.layers.append((env_where, _checked(_KEYS, env_table, env_where, env_sections)))

    values: dict[str, ConfigValue] = {}
    for key in _KEYS:
        if key.name in ("database_url", "database_url_env"):
            continue
        values[key.name] = _resolve_key(key, layers, environ, flags)
    values["database_url"] = _resolve_database(layers, environ, flags)

    base_dir = path.parent if path is not None else None
    values["path"] = _relative_path(values["path"], base_dir)

    backup_layers = _Layers()
    backup_layers.layers.append((f"{where} [backup]",
                                 _checked(_BACKUP_KEYS, _section(top, "backup", where), f"{where} [backup]", ())))
    if env is not None:
        backup_layers.layers.append((f"{env_where} [backup]",
                                     _checked(_BACKUP_KEYS, _section(env_table, "backup", env_where),
                                              f"{env_where} [backup]", ())))
    for key in _BACKUP_KEYS:
        values[f"backup.{key.name}"] = _resolve_key(key, backup_layers, environ, flags, prefix="backup.")
    if not str(values["backup.location"].value).startswith("s3://"):
        values["backup.location"] = _relative_path(values["backup.location"], base_dir)

    release_layers = _Layers()
    release_layers.layers.append((f"{where} [release]", _checked(
        _RELEASE_KEYS, _section(top, "release", where), f"{where} [release]", ())))
    if env is not None:
        release_layers.layers.append((f"{env_where} [release]", _checked(
            _RELEASE_KEYS, _section(env_table, "release", env_where), f"{env_where} [release]", ())))
    for key in _RELEASE_KEYS:
        values[f"release.{key.name}"] = _resolve_key(key, release_layers, environ, flags, prefix="release.")

    lint_table = dict(_section(top, "lint", where))
    lint_table.update(_section(env_table, "lint", env_where) if env is not None else {})
    config = Config(env=env, file=path, values=values, lint_table=lint_table, lint_where=f"{where} [lint]")
    if lint_table:
        config.lint  # noqa: B018 -- check the [lint] table now, not at the first lint
    return config


def _resolve_key(key: _Key, layers: _Layers, environ: Mapping[str, str], flags: Mapping[str, Any],
                 prefix: str = "") -> ConfigValue:
    value = layers.resolve(key.name, key.default)
    if key.env and environ.get(key.env):
        value = ConfigValue(_from_environment(key, environ[key.env]), f"${key.env}")
    flag = flags.get(prefix + key.name)
    if flag is not None:
        value = ConfigValue(flag, "flag")
    return value


def _from_environment(key: _Key, text: str) -> Any:
    if key.kind is int:
        try:
            number = int(text)
        except ValueError:
            raise UsageError(f"${key.env} must be a whole number, not {text!r}") from None
        if not 0 <= number <= key.maximum:
            raise UsageError(f"${key.env} must be between 0 and {key.maximum}, not {number}")
        return number
    return text


def _resolve_database(layers: _Layers, environ: Mapping[str, str], flags: Mapping[str, Any]) -> ConfigValue:
    """The database URL, from the flag, $SAFEMIGRATE_DATABASE_URL, the file, or $DATABASE_URL."""
    flag = flags.get("database_url")
    if flag:
        return ConfigValue(flag, "flag")
    if environ.get(DATABASE_OVERRIDE_ENV):
        return ConfigValue(environ[DATABASE_OVERRIDE_ENV], f"${DATABASE_OVERRIDE_ENV}")
    # The most specific layer that names the database wins, whether by value or by variable.
    for origin, values in reversed(layers.layers):
        if values.get("database_url"):
            return ConfigValue(values["database_url"], origin)
        variable = values.get("database_url_env")
        if variable:
            if not environ.get(variable):
                raise UsageError(f"${variable} is not set ({origin} names it as database_url_env)",
                                 hint=f"export {variable}='postgres://…', or pass `database_url`", settings=("database_url",))
            return ConfigValue(environ[variable], f"${variable} (named by {origin})")
    if environ.get("DATABASE_URL"):
        return ConfigValue(environ["DATABASE_URL"], "$DATABASE_URL")
    return ConfigValue(None, "default")


def _relative_path(value: ConfigValue, base_dir: Path | None) -> ConfigValue:
    """A path from the file is relative to the file's folder; from a flag or the environment, to the cwd."""
    text = str(value.value)
    if base_dir is None or value.origin in ("flag", "default") or value.origin.startswith("$"):
        return value
    if Path(text).is_absolute():
        return value
    return ConfigValue(str(base_dir / text), value.origin)
