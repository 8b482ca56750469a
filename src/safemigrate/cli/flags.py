"""Which flag sets each setting or parameter a library message names (see ``errors.py``).

Library errors name settings (``database_url``, ``backup.location``, ``release.log_cmd``) and
command parameters (``allow_data_loss``, ``target``) and list them in ``settings``; the CLI's
error renderer swaps each listed name for its flag here, so a CLI user reads the flag to pass.
Imported only when such an error is rendered: no command's start-up pays for it. A test checks
every flag below against the click options of the commands it is given for.
"""

from __future__ import annotations

import re

from ..errors import SafemigrateError

__all__ = ["FLAG_OF", "FLAG_OF_IN", "flag_for", "spell_error", "spell_text"]

_RELEASE_FLAG_OF = {f"release.{name}": "--" + name.replace("_", "-") for name in (
    "health_url", "health_expect", "health_cmd", "log_cmd", "log_fail_pattern", "on_failure", "on_inconclusive",
    "before", "after", "before_restore", "after_restore", "hook_timeout", "notify", "require_env",
    "migration_lock_timeout", "statement_timeout", "retries", "allow_destructive")}

# setting or parameter -> the flag that sets it, whatever the command
FLAG_OF: dict[str, str] = {
    # the configuration's settings (safemigrate.toml, their $SAFEMIGRATE_* variables)
    "database_url": "-database",
    "path": "-path",
    "source": "-source",
    "lock_timeout": "-lock-timeout",
    "no_follow": "--no-follow",
    "env": "--env",
    "config_file": "--config",
    "backup.location": "--to",
    "backup.s3_endpoint_url": "--s3-endpoint-url",
    "backup.work_dir": "--work-dir",
    "backup.keep_daily": "--keep-daily",
    "backup.keep_weekly": "--keep-weekly",
    "backup.keep_monthly": "--keep-monthly",
    **_RELEASE_FLAG_OF,
    "release.interval": "--health-interval",
    "release.timeout": "--health-timeout",
    "release.initial_delay": "--health-initial-delay",
    "release.deadline": "--health-deadline",
    "release.success_threshold": "--health-successes",
    "release.failure_limit": "--health-failures",
    "release.error_limit": "--health-errors",
    "release.report_dir": "--report",
    # parameters of the safemigrate.commands functions (and of the library calls behind them)
    "allow_data_loss": "--allow-data-loss",
    "no_backup": "--no-backup",
    "to_version": "--to",
    "atomic": "--atomic",
    "strict": "--strict",
    "target": "--target",
    "replace": "--replace",
    "confirmed": "--yes",
    "from_database": "--from-database",
    "database_name": "--database-name",
    "quick": "--quick",
    "verify": "--verify",
    "keep_within": "--keep-within",
    "pg_bin_dir": "--pg-bin-dir",
    "no_owner": "--no-owner",
    "compression": "--compression",
    "dump_format": "--dump-format",
    "pg_version": "--pg-version",
    "dialect": "--dialect",
    "choice": "--choose",
    "mark_version": "--version",
    "ext": "-ext",
    "directory": "-dir",
    "seq": "-seq",
    "digits": "-digits",
    "time_format": "-format",
}

# the (top-level) commands where a name has another flag (release's backup location is --backup-location)
FLAG_OF_IN: dict[str, dict[str, str]] = {
    "release": {"backup.location": "--backup-location"},
    "preflight": {"backup.location": "--backup-location"},
    "backup": {"database_url": "--database"},  # the spelling of every backup example
}


def flag_for(name: str, command: str | None = None) -> str | None:
    """The flag that sets ``name`` on the command line of ``command`` (None: no flag sets it)."""
    return FLAG_OF_IN.get(command or "", {}).get(name) or FLAG_OF.get(name)


def _spell(text: str, names: tuple[str, ...], command: str | None) -> str:
    for name in names:
        flag = flag_for(name, command)
        if flag is not None and f"`{name}`" in text:
            # Not a part of a qualified SQL name in a server's message (MariaDB's `app`.`target`).
            text = re.sub(rf"(?<![.`])`{re.escape(name)}`(?![.`])", flag, text)  # a flag has no backslash
    return text


def spell_error(exc: SafemigrateError, command: str | None = None) -> tuple[str, str | None]:
    """The error's message and hint as a CLI user reads them: each setting it names as its flag."""
    return (_spell(exc.message, exc.settings, command),
            _spell(exc.hint, exc.settings, command) if exc.hint else exc.hint)


def spell_text(text: str, command: str | None = None) -> str:
    """Library text that reaches the CLI other than as an error (a release step that failed on
    an error, its next command): each backquoted name the table knows, as its flag."""
    if "`" not in text:
        return text
    names = {*FLAG_OF, *FLAG_OF_IN.get(command or "", {})}
    return _spell(text, tuple(name for name in names if f"`{name}`" in text), command)
