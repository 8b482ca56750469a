"""``safemigrate recover``: what a failed migration left, and the repair (finish, undo or mark)."""

from __future__ import annotations

import click

from .options import global_options, settings_of

__all__ = ["recover"]


@click.command()
@click.option("--apply", "apply_it", is_flag=True, default=False,
              help="Carry out the repair (default: diagnose only, changing nothing).")
@click.option("--choose", type=click.Choice(["finish", "undo", "mark"]), default=None,
              help="The repair; without it --apply takes the only safe one, if exactly one is.")
@click.option("--version", "mark_version", type=click.IntRange(min=-1), default=None, metavar="V",
              help="With --choose mark: the version to mark clean (default: the dirty one).")
@click.option("--yes", "-y", is_flag=True, default=False, help="Do not ask before --choose mark.")
@global_options
@click.pass_context
def recover(ctx: click.Context, apply_it: bool, choose: str | None, mark_version: int | None,
            yes: bool) -> None:
    """Diagnose a dirty database against its catalog, then finish or undo the failed migration.

    For example: safemigrate recover, then safemigrate recover --apply --choose finish.
    """
    from .. import commands
    from ..errors import UsageError
    from .render.recover import render_diagnosis, render_repair
    from .runtime import ProgressSink, confirm

    settings = settings_of(ctx)
    out = settings.output
    if not apply_it and (choose or mark_version is not None):
        raise UsageError("--choose and --version take effect with --apply",
                         hint="run safemigrate recover to see the diagnosis, then add --apply --choose ...")
    if mark_version is not None and choose != "mark":
        raise UsageError("--version goes with --choose mark")
    config = settings.config()
    if not apply_it:
        diagnosis = commands.recover_diagnose(config, events=ProgressSink(out))
        out.result(diagnosis.to_dict(), lambda: render_diagnosis(diagnosis))
        return
    if choose == "mark":
        confirm("Mark the version clean without running anything (the database was repaired by hand)?",
                yes=yes, refusal="--choose mark forces the version and needs confirmation",
                hint="run it from a terminal to be asked, or add --yes")
    result = commands.recover_repair(config, choose, mark_version=mark_version, events=ProgressSink(out))
    out.result(result.to_dict(), lambda: render_repair(result))
