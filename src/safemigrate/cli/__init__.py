"""Command line: parse, call the library, render. Errors are caught and rendered here, once."""

from __future__ import annotations

import errno
import sys
from collections.abc import Sequence

from ..errors import SafemigrateError
from .output import Output, quiet_if_reader_gone
from .settings import Settings

__all__ = ["main", "run"]


def _early_settings(argv: Sequence[str]) -> tuple[bool, bool]:
    """--json / --debug must shape error output even when parsing fails before they are stored."""
    args = list(argv)
    as_json = "--json" in args or "--format=json" in args or any(
        a == "--format" and i + 1 < len(args) and args[i + 1] == "json" for i, a in enumerate(args)
    )
    return as_json, "--debug" in args


def _register_passwords(settings: Settings, args: Sequence[str]) -> None:
    """The passwords of $DATABASE_URL, $SAFEMIGRATE_DATABASE_URL and -database, masked in all output."""
    import os

    from .settings import remember_password

    urls = [os.environ.get("DATABASE_URL"), os.environ.get("SAFEMIGRATE_DATABASE_URL")]
    for i, arg in enumerate(args):
        name, has_value, value = arg.partition("=")
        if name in ("-database", "--database"):
            urls.append(value if has_value else (args[i + 1] if i + 1 < len(args) else None))
    for url in urls:
        if url:
            remember_password(settings, url)


def run(argv: Sequence[str] | None = None) -> int:
    """Run the command line with ``argv`` and return the exit status (never raises SystemExit)."""
    args = list(sys.argv[1:] if argv is None else argv)
    as_json, debug = _early_settings(args)
    settings = Settings()
    settings.output = Output(format="json" if as_json else "text")
    settings.format = settings.output.format
    out = settings.output
    # Registered before any parsing, so no error (a malformed URL included) can show it.
    _register_passwords(settings, args)
    try:
        from .fast import parse_version_command, show_version

        if parse_version_command(args, settings):
            show_version(settings)
            return 0
    except SafemigrateError as exc:
        _render_error(out, exc, "version")
        return exc.exit_code
    except Exception as exc:
        return _internal_error(out, exc, debug or settings.debug)
    try:
        # `lint` spelled the plain way runs without click too (CI lints on every push).
        from .fast_lint import parse_lint_command, run_lint

        lint_args = parse_lint_command(args, settings)
        if lint_args is not None:
            code = run_lint(settings, lint_args)
            _leave_without_teardown.append(True)
            return code
        # So do `status` (CI runs it on every pipeline) and `up` (every deploy).
        from .fast_engine import parse_status_command, run_status

        exit_code = parse_status_command(args, settings)
        if exit_code is not None:
            code = run_status(settings, exit_code)
            _leave_without_teardown.append(True)  # its connection is closed: nothing left to clean up
            return code
        from .fast_engine import parse_up_command, run_up_words

        up_args = parse_up_command(args, settings)
        if up_args is not None:
            return run_up_words(settings, up_args)
    except SafemigrateError as exc:
        _render_error(out, exc, settings.command or "lint")
        return exc.exit_code
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
    except Exception as exc:
        return _internal_error(out, exc, debug or settings.debug)
    import click

    from .app import cli

    if not args:
        # `safemigrate` alone: the full help (the commands grouped by task), on stderr with exit 2,
        # as golang-migrate answers a missing command.
        with click.Context(cli, info_name="safemigrate", obj=settings, **cli.context_settings) as help_ctx:
            sys.stderr.write(cli.get_help(help_ctx) + "\n")
        return 2
    try:
        # Without standalone mode click returns ctx.exit()'s code instead of exiting.
        code = cli.main(args=args, prog_name="safemigrate", standalone_mode=False, obj=settings)
        return code if isinstance(code, int) else 0
    except SafemigrateError as exc:
        _render_error(out, exc, settings.command)
        return exc.exit_code
    except click.exceptions.Exit as exc:
        return int(exc.exit_code or 0)
    except click.exceptions.Abort:
        out.error("aborted")
        return 1
    except click.ClickException as exc:
        ctx = getattr(exc, "ctx", None)
        usage = ctx.get_usage() if ctx is not None else None
        if out.json:
            out.result({"ok": False, "error": {"type": "usage", "message": exc.format_message()}})
        else:
            if usage:
                out.stderr.write(out.scrub(usage) + "\n")
            out.error(exc.format_message(), hint="run safemigrate --help (or COMMAND --help) for usage")
        return 2
    except KeyboardInterrupt:
        out.error("interrupted")
        return 130
    except Exception as exc:
        return _internal_error(out, exc, debug or settings.debug)


# A device that refuses a write (full, over quota, read-only, failing) is the machine's state, not a bug.
_DEVICE_ERRNOS = frozenset({errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EIO})


def _device_error(out: Output, exc: OSError) -> int:
    where = f" {exc.filename}" if exc.filename else " (the output or a file the command writes)"
    message = f"could not write{where}: {exc.strerror or exc}"
    hint = ("free space on that device (or send the output elsewhere) and run the command again; "
            "safemigrate status shows where the database stands")
    try:
        if out.json:
            try:
                out.result({"ok": False, "error": {"type": "device", "message": out.scrub(message), "hint": hint}})
                return 1
            except OSError:  # the JSON document goes where the write just failed: say it on stderr
                pass
        out.error(message, hint=hint)
    except OSError:  # stderr is on the same full device: the exit status still tells
        pass
    return 1


def _internal_error(out: Output, exc: Exception, debug: bool) -> int:
    """A bug: say so, show the traceback only when asked."""
    if isinstance(exc, BrokenPipeError) and quiet_if_reader_gone(out.stdout):
        return READER_GONE_EXIT  # the output's reader left (`| head`): not a bug, and no one to tell
    if isinstance(exc, OSError) and exc.errno in _DEVICE_ERRNOS and not debug:
        return _device_error(out, exc)
    if debug:
        import traceback  # only here: importing it costs every command a few milliseconds

        out.stderr.write(out.scrub(traceback.format_exc()))
    message = f"internal error: {type(exc).__name__}: {exc}"
    if out.json:
        out.result({"ok": False, "error": {"type": "internal", "message": out.scrub(message)}})
    else:
        out.error(message, hint="re-run with --debug for a traceback and report it as a bug")
    return 1


def _render_error(out: Output, exc: SafemigrateError, command: str | None) -> None:
    message, hint = exc.message, exc.hint
    if exc.settings:  # the library names settings; a CLI user reads the flags that set them
        from .flags import spell_error

        message, hint = spell_error(exc, command)
    if out.json:
        error = exc.to_dict()
        error["message"] = message
        if hint:
            error["hint"] = hint
        out.result({"ok": False, "error": error})
        return
    out.error(message, hint=hint, extra=exc.report_lines)


# Set by run() when it ran `lint` or `status` without click: those commands leave nothing to clean
# up at exit (no connection, no file, no atexit handler), so main() skips the interpreter's
# teardown, which frees every object one by one: 2% of linting 1,000 files, 10% of linting a small
# folder, 2% of the status of 10,000 files.
_leave_without_teardown: list[bool] = []


# Young collections every 50,000 allocations instead of 700 (and older ones less often): the
# imports leave some 35,000 objects the collector tracks (functions, classes, dicts), all alive to
# the end, and the older collections they set off scan them again (about 25 M instructions of `up`
# with nothing pending). Cyclic garbage is still collected, in larger batches, so a long run's
# memory stays bounded.
_COLLECTOR_THRESHOLDS = (50_000, 20, 100)


def main() -> None:
    """The console script: run the command line, exit with its status."""
    import gc

    gc.set_threshold(*_COLLECTOR_THRESHOLDS)
    _leave_without_teardown.clear()
    code = _flushed(run())
    if _leave_without_teardown:
        import os

        os._exit(code)
    # Everything alive now lives until the exit: the final collection need not scan it (about
    # 50 M instructions; the exit frees the memory anyway, and the command has closed its files
    # and connections).
    gc.freeze()
    sys.exit(code)


# The reader of the output went away before the end (`safemigrate status | head -1`): nothing is
# wrong and there is no one to tell. Exit status 1, as click gives for the commands it runs and
# Python's documentation advises (the output is incomplete; a pipeline with pipefail sees it).
READER_GONE_EXIT = 1


def _flushed(code: int) -> int:
    """Flush the output before the exit: ``code``, or READER_GONE_EXIT when stdout's reader has
    gone, or 120 (as Python's own exit gives) when the output cannot be written otherwise."""
    try:
        sys.stdout.flush()
        sys.stderr.flush()
    except BrokenPipeError:
        return READER_GONE_EXIT if quiet_if_reader_gone(sys.stdout) else 120
    except (OSError, ValueError):
        return 120
    return code
