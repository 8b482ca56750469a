"""The release procedure's options, from the one configuration (``release.*`` and ``backup.*``).

Its messages name the settings (``release.log_cmd``); the CLI says the flags that set them.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .config import Config, load_config
from .errors import UsageError

if TYPE_CHECKING:
    from .release.procedure import ReleaseOptions

__all__ = ["release_options"]


def _commands(items: Sequence[str | Sequence[str]] | None, what: str) -> list[list[str]]:
    commands = []
    for item in items or ():
        if isinstance(item, str):
            try:
                commands.append(shlex.split(item))
            except ValueError as exc:
                raise UsageError(f"`{what}` {item!r}: {exc}", settings=(what,)) from None
        else:
            commands.append(list(item))
    return commands


def release_options(config: Config, *, to_version: int | None = None, dry_run: bool = False,
                    no_backup: bool = False, allow_data_loss: bool = False) -> ReleaseOptions:
    """What :func:`safemigrate.release.procedure.run_release` needs, every value checked."""
    from .release.health import GatePolicy
    from .release.hooks import parse_hook
    from .release.notify import check_webhook_url
    from .release.procedure import ReleaseOptions

    if not config.database_url:
        raise UsageError("no database: pass `database_url`, set $DATABASE_URL, or choose `env` NAME",
                         hint="for example: safemigrate release `env` staging",
                         settings=("database_url", "env"))

    def get(name: str) -> Any:
        return config.release(name)

    hook_timeout = float(get("hook_timeout"))

    def hooks(name: str) -> list[Any]:
        return [parse_hook(cmd, what=f"release.{name}", timeout=hook_timeout)
                for cmd in _commands(get(name), f"release.{name}")]

    require_env = get("require_env")
    require_url = None
    if require_env:
        if require_env == config.env:
            raise UsageError(f"`release.require_env` {require_env} names the environment being released",
                             settings=("release.require_env",))
        require_url = load_config(env=require_env, config_file=config.file, environ=None).database_url
    named = frozenset({"SAFEMIGRATE_DATABASE_URL", "DATABASE_URL"})
    options = ReleaseOptions(
        to_version=to_version, dry_run=dry_run,
        allow_destructive=bool(get("allow_destructive")), no_backup=no_backup,
        backup_location=config.backup("location"), s3_endpoint_url=config.backup("s3_endpoint_url"),
        work_dir=config.backup("work_dir"),
        health_urls=list(get("health_url") or ()), health_expect=list(get("health_expect") or ()),
        health_cmds=_commands(get("health_cmd"), "release.health_cmd"),
        log_cmd=_commands([get("log_cmd")], "release.log_cmd")[0] if get("log_cmd") else (),
        log_fail_pattern=get("log_fail_pattern"),
        gate=GatePolicy(initial_delay=float(get("initial_delay")), interval=float(get("interval")),
                        timeout=float(get("timeout")), success_threshold=int(get("success_threshold")),
                        failure_limit=int(get("failure_limit")), error_limit=int(get("error_limit")),
                        deadline=float(get("deadline"))),
        on_failure=get("on_failure"), on_inconclusive=get("on_inconclusive"),
        allow_data_loss=allow_data_loss,
        before=hooks("before"), after=hooks("after"), before_restore=hooks("before_restore"),
        after_restore=hooks("after_restore"),
        notify_urls=[check_webhook_url(url) for url in get("notify") or ()],
        report_dir=Path(get("report_dir")), require_env=require_env, require_env_url=require_url,
        checks=dict(get("checks") or {}), migration_lock_timeout=float(get("migration_lock_timeout")),
        statement_timeout=get("statement_timeout"), retries=int(get("retries")), named_secrets=named,
        size_warn_bytes=int(float(get("table_size_warn_mb")) * (1 << 20)),
        size_warn_rows=int(get("table_rows_warn")), replication_lag_warn=float(get("replication_lag_warn")),
        long_transaction_seconds=float(get("long_transaction_seconds")),
    )
    if options.log_fail_pattern and not options.log_cmd:
        raise UsageError("`release.log_fail_pattern` needs `release.log_cmd`",
                         hint="for example: `release.log_cmd` 'kubectl logs -f deployment/chat-server --tail=100' "
                         "`release.log_fail_pattern` 'ERROR|panic:'",
                         settings=("release.log_fail_pattern", "release.log_cmd"))
    return options


