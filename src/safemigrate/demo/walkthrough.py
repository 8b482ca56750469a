"""``safemigrate demo``: the runbook end to end on a throwaway database, narrated for a person.

Every step prints the command a user would type (``$ safemigrate ...``) and runs exactly that
command, in this process, through the same entry point as the console script, so the output
shown is the real output. The walkthrough checks each outcome it promises (lint fails, then
passes; the release is released; the broken one is rolled back) and stops with exit 1 if the
tool did anything else: a demo that lies is worse than none.
"""

from __future__ import annotations

import io
import os
import shlex
import shutil
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from ..errors import DemoFailedError, UsageError
from .app import ChatApp, get_ready, loopback_works
from .files import BROKEN, FIXED, HALFWAY, UNSAFE, chat_files, write_files
from .server import DemoDatabase, open_database, stop_leftover

__all__ = ["DemoFailed", "run_demo"]

MARKER = ".safemigrate-demo"
STEPS = 5
WIDTH = 88


# The walkthrough's name for it; the class lives with every other error in errors.py.
DemoFailed = DemoFailedError


class _Tee(io.TextIOBase):
    """Writes go to the terminal and are kept, so the walkthrough can check what a command said."""

    def __init__(self, real: TextIO) -> None:
        self.real = real
        self.kept = io.StringIO()

    def write(self, text: str) -> int:
        self.real.write(text)
        self.kept.write(text)
        return len(text)

    def flush(self) -> None:
        self.real.flush()

    def isatty(self) -> bool:
        return self.real.isatty()


@dataclass
class Ran:
    code: int
    stdout: str
    stderr: str


class Narrator:
    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.color = out.isatty() and not os.environ.get("NO_COLOR") and os.environ.get("TERM") != "dumb"

    def _style(self, text: str, code: str) -> str:
        return f"\033[{code}m{text}\033[0m" if self.color else text

    def step(self, number: int, title: str) -> None:
        rule = "─" * WIDTH
        self.out.write(f"\n{self._style(rule, '2')}\n{self._style(f'Step {number} of {STEPS}: {title}', '1')}\n")

    def say(self, *lines: str) -> None:
        """Narration, wrapped for a terminal; indented lines are shown as they are (commands)."""
        for line in lines:
            if line and not line.startswith(" "):
                line = textwrap.fill(line, width=WIDTH, break_on_hyphens=False, break_long_words=False)
            self.out.write(f"{line}\n" if line else "\n")
        self.out.flush()

    def command(self, text: str) -> None:
        self.out.write(f"\n{self._style('$ ' + text, '1;36')}\n")
        self.out.flush()

    def show_file(self, path: Path) -> None:
        self.command(f"cat {path.as_posix()}")
        self.out.write(path.read_text(encoding="utf-8"))
        self.out.flush()


class Walkthrough:
    def __init__(self, folder: Path, database: DemoDatabase, narrator: Narrator) -> None:
        self.folder = folder
        self.db = database
        self.n = narrator
        self.migrations = Path("migrations")
        self.app: ChatApp | None = None

    # -- running commands ---------------------------------------------------------------
    def safemigrate(self, *args: str, expect: int = 0, why: str = "") -> Ran:
        """Print ``$ safemigrate ARGS``, run it for real, and check its exit status."""
        from ..cli import run

        self.n.command(shlex.join(["safemigrate", *args]))
        out, err = _Tee(sys.stdout), _Tee(sys.stderr)
        saved = sys.stdout, sys.stderr
        sys.stdout, sys.stderr = out, err
        try:
            code = run(list(args))
        finally:
            sys.stdout, sys.stderr = saved
        if code != 0:
            self.n.say(f"(exit status {code}{': ' + why if why else ''})")
        if code != expect:
            raise DemoFailed(f"`safemigrate {shlex.join(args)}` exited {code}, the walkthrough expected "
                             f"{expect}", hint="this is a bug in safemigrate or the demo: please report "
                             "it with the output above")
        return Ran(code, out.kept.getvalue(), err.kept.getvalue())

    def version(self) -> tuple[int | None, bool]:
        from ..drivers import open_driver

        driver = open_driver(self.db.url)
        driver.connect()
        try:
            state = driver.read_version()
        finally:
            driver.close()
        return state.version, state.dirty

    def expect_version(self, wanted: int) -> None:
        got = self.version()
        if got != (wanted, False):
            raise DemoFailed(f"the database is at {got}, the walkthrough expected version {wanted}, clean",
                             hint="this is a bug in safemigrate or the demo: please report it")

    def seed(self) -> None:
        """What the application's users wrote: the data every later step must keep."""
        from ..drivers import open_driver

        driver = open_driver(self.db.url)
        driver.connect()
        try:
            driver.execute("INSERT INTO users (username) VALUES ('ada'), ('grace'), ('linus')")
            driver.execute("INSERT INTO rooms (name) VALUES ('general'), ('ops')")
            driver.execute("INSERT INTO memberships (room_id, user_id) SELECT r.id, u.id FROM rooms r, users u")
            driver.execute(
                "INSERT INTO messages (room_id, user_id, body) SELECT r.id, u.id, 'hello from ' || u.username "
                "FROM rooms r, users u")
        finally:
            driver.close()

    # -- the health endpoint --------------------------------------------------------------
    def health_args(self) -> list[str]:
        assert self.app is not None
        if self.app.socket_path is None:
            probe = ["--health-url", self.app.url, "--health-expect", "$.status=ok"]
        else:
            probe = ["--health-cmd", shlex.join([sys.executable, "-m", "safemigrate.demo.probe", self.app.url])]
        # Quick measurements for a demo; production keeps the defaults (every 5 s, 3 in a row).
        return [*probe, "--health-interval", "0.2", "--health-successes", "3", "--health-failures", "2",
                "--health-deadline", "30"]

    def curl(self) -> None:
        assert self.app is not None
        if self.app.socket_path is None:
            self.n.command(f"curl -s {self.app.url}")
        else:
            self.n.command(f"curl -s --unix-socket {self.app.socket_path} http://localhost/health/ready")
        status, body = get_ready(self.app.url)
        self.n.say(f"{body}    (HTTP {status})")

    # -- the steps -----------------------------------------------------------------------
    def run(self) -> None:
        self.setup()
        self.step_lint()
        self.step_release()
        self.step_broken_release()
        self.step_recover()
        self.step_history_and_next()

    def setup(self) -> None:
        n = self.n
        n.say(self._bold("safemigrate demo: the migration runbook, end to end, on a throwaway database."),
              "", f"Database: {self.db.description}.")
        if self.db.fallback_reason:
            n.say(f"PostgreSQL could not start here ({self.db.fallback_reason}), so this run uses SQLite: "
                  "the same steps, SQLite's dialect.")
        n.say(f"Everything is written to {self.folder} (delete it when you are done; running the demo "
              "again starts it afresh).", "",
              "The project is a small chat application: users, rooms, memberships, messages. Each step "
              "shows the command you would type and its real output.")
        n.command(f"cd {shlex.quote(str(self.folder))}")
        n.command(f"export DATABASE_URL={shlex.quote(self.db.shown_url or self.db.url)}")
        os.environ["DATABASE_URL"] = self.db.url
        write_files(self.migrations, chat_files(self.db.dialect))
        n.command("ls migrations")
        n.say(*sorted(p.name for p in self.migrations.iterdir()))

    def step_lint(self) -> None:
        n = self.n
        n.step(1, "Review: lint stops an unsafe migration before it reaches production")
        n.say("Production runs the chat app at schema version 4. Bring the demo database there:")
        self.safemigrate("up")
        self.seed()
        n.say("", "The app's users have written a few messages since (6 rows in messages).", "",
              "A teammate opens a pull request with migration 5: rooms get a topic.")
        write_files(self.migrations, UNSAFE)
        up = self.migrations / "000005_add_room_topic.up.sql"
        n.show_file(up)
        n.say("", "Review it the way CI does (the examples/chat workflow runs this on every pull request):")
        self.safemigrate("lint", up.as_posix(), expect=1, why="lint found an error")
        n.say("", "The UPDATE without WHERE rewrites every row of rooms in one transaction, holding its "
              "lock the whole time, and mixes a data change into a schema change. The fix: let the "
              "column's default fill the existing rows, and set a lock_timeout so a busy table makes "
              "the migration fail fast instead of queueing every query behind it.")
        write_files(self.migrations, FIXED[self.db.dialect])
        n.show_file(up)
        self.safemigrate("lint", up.as_posix())
        n.say("", "Clean: the pull request can be merged.")

    def step_release(self) -> None:
        n = self.n
        n.step(2, "Release: plan, a backup proven by a restore, apply, health gate")
        n.say("The app is running (the demo serves it itself). Its readiness endpoint checks the schema "
              "version it runs on and runs the app's own query:")
        self.curl()
        n.say("", "First, what would run (nothing changes):")
        self.safemigrate("plan")
        n.say("", "Then the runbook's production procedure as one command: pre-flight checks, a backup "
              "verified by a real restore into a scratch database, the migration, and the health gate "
              "(the app must answer healthy 3 times in a row).")
        self.safemigrate("release", *self.health_args(), "--backup-location", "backups",
                         "--report", "releases")
        self.expect_version(5)
        n.say("", "The backup it took (pinned until the next successful release):")
        self.safemigrate("backup", "list", "--to", "backups")

    def step_broken_release(self) -> None:
        n = self.n
        n.step(3, "A broken release, rolled back automatically")
        n.say("Migration 6 renames messages.body to messages.content. Lint flags every rename; the "
              "author acknowledged it with an ignore comment, saying the app was updated. It was not.")
        write_files(self.migrations, BROKEN)
        n.show_file(self.migrations / "000006_rename_message_body.up.sql")
        ran = self.safemigrate("release", *self.health_args(), "--backup-location", "backups",
                               "--report", "releases", expect=1, why="rolled back")
        self.expect_version(5)
        n.say("", "The gate saw the app fail after the rename, ran the down file under the same lock, "
              "checked the app again, and wrote the report (in releases/, and in the database: "
              "safemigrate history --release ID shows it again). The app is healthy on version 5:")
        self.curl()
        if "rolled_back" not in ran.stdout + ran.stderr and "rolled back" not in ran.stdout + ran.stderr:
            raise DemoFailed("the broken release did not report a rollback",
                             hint="this is a bug in safemigrate or the demo: please report it")
        for name in BROKEN:
            (self.migrations / name).unlink()
        n.say("", "The team reverts the commit (rm migrations/000006_*) and fixes the app first.")

    def step_recover(self) -> None:
        n = self.n
        n.step(4, "A migration killed halfway, then `safemigrate recover`")
        write_files(self.migrations, HALFWAY[self.db.dialect])
        path = self.migrations / "000006_add_message_edited_at.up.sql"
        n.show_file(path)
        n.say("", "Its process is killed (a node drained, an OOM kill) after the first statement. The demo "
              "leaves exactly that state by hand, so it is the same every time: the column is there, the "
              "index is not, and the version table says 6, dirty, as golang-migrate itself would leave it:")
        self.kill_halfway()
        self.safemigrate("up", expect=1, why="the database is dirty")
        n.say("", "golang-migrate's advice is \"Fix and force version\", by hand, guessing. Instead, "
              "recover reads every statement of the file against the catalog (and against the history "
              "when safemigrate ran it) and shows each repair as the SQL it would run:")
        self.safemigrate("recover")
        n.say("", "Finish it: run what did not take effect, then mark version 6 clean (under the lock, "
              "recorded in the history):")
        self.safemigrate("recover", "--apply", "--choose", "finish")
        self.expect_version(6)
        self.safemigrate("status")

    def kill_halfway(self) -> None:
        from ..drivers import open_driver

        driver = open_driver(self.db.url)
        driver.connect()
        try:
            driver.execute("ALTER TABLE messages ADD COLUMN edited_at TIMESTAMP")
            driver.execute("UPDATE schema_migrations SET version = 6, dirty = "
                           + ("true" if self.db.dialect == "postgres" else "1"))
        finally:
            driver.close()

    def step_history_and_next(self) -> None:
        n = self.n
        n.step(5, "History, check, and what to try on your own project")
        n.say("Every step safemigrate ran, with who, when, how long and the outcome:")
        self.safemigrate("history", "--limit", "10")
        n.say("", "What a deploy runs before starting the app (a Kubernetes init container in "
              "examples/chat): exit 0 when the schema is exactly the version the app expects.")
        self.safemigrate("check", "--expect", "6")
        self.safemigrate("check", "--expect", "7", expect=1, why="the app expects a newer schema")
        n.say("", self._bold("Try it on your own project") + " (a copy to start from: examples/chat in "
              "the repository):", "",
              "  export DATABASE_URL='postgres://USER@HOST:5432/DB?sslmode=disable'",
              "  safemigrate -path db/migrations lint                 # review every file",
              "  safemigrate -path db/migrations status               # applied, pending, edited, missing",
              "  safemigrate -path db/migrations plan                 # what up would run, SQL included",
              "  safemigrate backup create && safemigrate backup verify latest",
              "  safemigrate -path db/migrations release --health-url https://YOUR-APP/health/ready",
              "", "safemigrate --help lists every command; each command's --help has an example.")

    def _bold(self, text: str) -> str:
        return self.n._style(text, "1")


@contextmanager
def _inside(folder: Path) -> Iterator[None]:
    old_cwd, old_url = Path.cwd(), os.environ.get("DATABASE_URL")
    os.chdir(folder)
    try:
        yield
    finally:
        os.chdir(old_cwd)
        if old_url is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = old_url


@contextmanager
def _app_socket(folder: Path) -> Iterator[Path | None]:
    """None: the app listens on 127.0.0.1. Where the loopback interface is down (``unshare -n``)
    it listens on a Unix socket instead: in the folder, or a short temporary one if the folder's
    path is too long for a socket's (107 bytes)."""
    if loopback_works():
        yield None
        return
    if len(str(folder / "app.sock")) < 100:
        yield folder / "app.sock"
        return
    short = Path(tempfile.mkdtemp(prefix="smdemo-app-"))
    try:
        yield short / "app.sock"
    finally:
        shutil.rmtree(short, ignore_errors=True)


def prepare_folder(folder: Path) -> Path:
    """A fresh demo folder: an earlier demo's is replaced; anything else is never touched."""
    folder = folder.expanduser().resolve()
    if folder.exists():
        if not folder.is_dir():
            raise UsageError(f"{folder} exists and is not a folder", hint="choose another with --dir DIR")
        if (folder / MARKER).exists():
            stop_leftover(folder)
            shutil.rmtree(folder)
        elif any(folder.iterdir()):
            raise UsageError(f"{folder} exists and was not made by safemigrate demo; it is left untouched",
                             hint="choose another folder: safemigrate demo --dir ./safemigrate-demo-2")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / MARKER).write_text("made by `safemigrate demo`; the next demo run replaces this folder\n")
    return folder


def run_demo(folder: Path, *, sqlite: bool = False, server_url: str | None = None,
             out: TextIO | None = None) -> None:
    """Run the walkthrough in ``folder``; raises :class:`DemoFailed` if the tool misbehaved."""
    narrator = Narrator(out or sys.stdout)
    started = time.monotonic()
    folder = prepare_folder(folder)
    with _inside(folder), open_database(folder, sqlite=sqlite, server_url=server_url) as database:
        walk = Walkthrough(folder, database, narrator)
        with _app_socket(folder) as socket_path:
            app = ChatApp(database.url, range(4, 7), socket_path)
            walk.app = app
            app.start()
            try:
                walk.run()
            finally:
                app.stop()
    narrator.say("", f"Demo finished in {time.monotonic() - started:.0f} s. Everything it made is in "
                 f"{folder}; its database server is stopped.")
