"""``safemigrate release`` and ``safemigrate preflight``: parse, build the options, run, render."""

from __future__ import annotations

import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from .options import Settings, global_options, settings_of

if TYPE_CHECKING:
    from ..config import Config
    from ..events import CancelToken

__all__ = ["preflight", "release"]

F = TypeVar("F", bound=Callable[..., Any])


def _release_options(func: F) -> F:
    options = [
        click.option("--to", "to_version", type=click.IntRange(min=0), default=None, metavar="V",
                     help="Apply up to version V (default: every pending migration)."),
        click.option("--dry-run", is_flag=True, default=False, help="Run pre-flight and show the plan only."),
        click.option("--allow-destructive", is_flag=True, default=None,
                     help="Release DROP/TRUNCATE/DELETE-without-WHERE… that no ignore comment acknowledges."),
        click.option("--no-backup", is_flag=True, default=False,
                     help="Take no backup (recorded in the report; the restore rung is then unavailable)."),
        click.option("--backup-location", metavar="DIR|s3://BUCKET/PREFIX", default=None,
                     help="Where the pre-release backup goes. Default: [backup] location, else ./backups."),
        click.option("--health-url", multiple=True, metavar="URL", help="2xx means healthy (repeatable)."),
        click.option("--health-expect", multiple=True, metavar="PATH=VALUE",
                     help="A condition on the JSON answer, e.g. '$.schema_version=4' (repeatable)."),
        click.option("--health-cmd", multiple=True, metavar="CMD", help="Exit 0 means healthy (repeatable)."),
        click.option("--health-interval", type=click.FloatRange(min=0), default=None, metavar="S",
                     help="Seconds between measurements (default 5)."),
        click.option("--health-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
                     help="Seconds each measurement may take (default 3)."),
        click.option("--health-initial-delay", type=click.FloatRange(min=0), default=None, metavar="S",
                     help="Seconds before the first measurement (default 0)."),
        click.option("--health-deadline", type=click.FloatRange(min=0), default=None, metavar="S",
                     help="Seconds without a verdict before the gate is inconclusive (default 120)."),
        click.option("--health-successes", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Successes in a row that pass the gate (default 3)."),
        click.option("--health-failures", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Failures that fail the gate (default 3)."),
        click.option("--health-errors", type=click.IntRange(min=1), default=None, metavar="N",
                     help="Errors in a row that count as one failure (default 4)."),
        click.option("--log-cmd", default=None, metavar="CMD",
                     help="Watch this command's output during the gate (e.g. kubectl logs -f …)."),
        click.option("--log-fail-pattern", default=None, metavar="REGEX",
                     help="A log line matching REGEX counts as a failure."),
        click.option("--on-failure", type=click.Choice(["rollback", "restore", "stop"]), default=None,
                     help="After a failure: down files (default), down files then the backup, or stop."),
        click.option("--on-inconclusive", type=click.Choice(["hold", "rollback"]), default=None,
                     help="An inconclusive gate holds (default: exit 3) or rolls back."),
        click.option("--allow-data-loss", is_flag=True, default=False,
                     help="Roll back even when the down files destroy data written since the apply."),
        click.option("--before", multiple=True, metavar="CMD", help="Hook before the backup (repeatable)."),
        click.option("--after", multiple=True, metavar="CMD", help="Hook at the end, whatever the outcome."),
        click.option("--before-restore", multiple=True, metavar="CMD", help="Hook before a restore."),
        click.option("--after-restore", multiple=True, metavar="CMD", help="Hook after a restore."),
        click.option("--hook-timeout", type=click.FloatRange(min=0, min_open=True), default=None, metavar="S",
                     help="Seconds each hook may take (default 300)."),
        click.option("--notify", multiple=True, metavar="URL", help="Slack-compatible webhook (repeatable)."),
        click.option("--report", "report_dir", default=None, metavar="DIR",
                     help="Where the JSON and Markdown reports go (default ./releases)."),
        click.option("--require-env", default=None, metavar="NAME",
                     help="Refuse unless environment NAME released exactly these files first."),
        click.option("--migration-lock-timeout", type=click.FloatRange(min=0), default=None, metavar="S",
                     help="Seconds a migration waits for a table lock before it is retried (default 5)."),
        click.option("--statement-timeout", type=click.FloatRange(min=0), default=None, metavar="S",
                     help="Seconds a migration's statement may run (default: the server's)."),
        click.option("--retries", type=click.IntRange(min=0, max=20), default=None, metavar="N",
                     help="Tries of a migration that hit the lock timeout (default 3)."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _flag_settings(params: dict[str, Any]) -> dict[str, Any]:
    """The command line's release settings, named as in [release] (None says nothing)."""
    def listed(name: str) -> list[str] | None:
        return list(params[name]) or None

    return {
        "release.health_url": listed("health_url"), "release.health_expect": listed("health_expect"),
        "release.health_cmd": listed("health_cmd"), "release.log_cmd": params["log_cmd"],
        "release.log_fail_pattern": params["log_fail_pattern"],
        "release.interval": params["health_interval"], "release.timeout": params["health_timeout"],
        "release.initial_delay": params["health_initial_delay"], "release.deadline": params["health_deadline"],
        "release.success_threshold": params["health_successes"],
        "release.failure_limit": params["health_failures"], "release.error_limit": params["health_errors"],
        "release.on_failure": params["on_failure"], "release.on_inconclusive": params["on_inconclusive"],
        "release.before": listed("before"), "release.after": listed("after"),
        "release.before_restore": listed("before_restore"), "release.after_restore": listed("after_restore"),
        "release.hook_timeout": params["hook_timeout"], "release.notify": listed("notify"),
        "release.report_dir": params["report_dir"], "release.require_env": params["require_env"],
        "release.migration_lock_timeout": params["migration_lock_timeout"],
        "release.statement_timeout": params["statement_timeout"], "release.retries": params["retries"],
        "release.allow_destructive": params["allow_destructive"],
        "backup.location": params["backup_location"],
    }


def release_config(settings: Settings, params: dict[str, Any]) -> Config:
    """The resolved configuration with the command line's release flags over it."""
    from ..config import load_config

    base = settings.config()
    flags = {"database_url": settings.database, "path": base.migrations_path if (settings.path or settings.source)
             else None, "lock_timeout": settings.lock_timeout, **_flag_settings(params)}
    return load_config(env=settings.env, config_file=settings.config_file, flags=flags)


@contextmanager
def _cancel_on_signals(settings: Settings) -> Iterator[CancelToken]:
    """The first SIGINT/SIGTERM stops the release at its next safe point; no exception from the handler."""
    from ..cancel import CancelToken

    cancel = CancelToken()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        if not cancel.is_set():
            settings.output.info(f"{signal.Signals(signum).name} received: stopping at the next safe point "
                                 "(the lock is released, the report says where it stopped)")
        cancel.cancel(signum)

    from .runtime import signal_handler

    with signal_handler(on_signal):
        yield cancel


def _run(ctx: click.Context, params: dict[str, Any]) -> None:
    from .. import commands
    from .render.release import render_release
    from .runtime import CliReporter

    settings = settings_of(ctx)
    config = release_config(settings, params)
    out = settings.output
    reporter = CliReporter(out)

    def header(driver: Any) -> None:
        if not out.json:
            out.lines([f"release on {driver.url.redacted()}" + (f" (env {config.env})" if config.env else "")
                       + (": dry run, nothing will change" if params["dry_run"] else "")])

    def show(step: Any) -> None:
        if not out.json:
            from .flags import spell_text

            reporter.close()
            out.lines([spell_text(step.line(), settings.command)])

    with _cancel_on_signals(settings) as cancel:
        result = commands.release(config, to_version=params["to_version"], dry_run=params["dry_run"],
                                  no_backup=params["no_backup"], allow_data_loss=params["allow_data_loss"],
                                  cancel=cancel, reporter=reporter, on_step=show, on_connect=header)
    reporter.close()
    ctx.exit(render_release(out, result, cancel.signal_number, settings.command or "release"))


@click.command()
@_release_options
@global_options
@click.pass_context
def release(ctx: click.Context, /, **params: Any) -> None:
    """The runbook's production procedure: pre-flight, backup, apply, health gate, rollback, report.

    For example: safemigrate release --env production --health-url https://api/health/ready.
    Exit 0 released; 1 refused, or failed and rolled back; 3 held for a person; 4 the rollback failed.
    """
    _run(ctx, params)


@click.command()
@_release_options
@global_options
@click.pass_context
def preflight(ctx: click.Context, /, **params: Any) -> None:
    """Every pre-flight check of a release, changing nothing (release --dry-run).

    For example: safemigrate preflight --env production. Exit 0 when a release could go ahead.
    """
    params["dry_run"] = True
    _run(ctx, params)
