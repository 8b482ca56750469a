"""The linter's library entry points: migration files for the engine, paths for the command line."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from functools import cache
from pathlib import Path

from ..errors import SourceError, UsageError
from ..source import MIGRATION_FILE_RE, Direction, MigrationFile, load_source
from .config import LintConfig
from .engine import Linter, SourceFile, lint_sources
from .model import LintReport

__all__ = ["lint_migrations", "lint_paths", "lint_text"]

_DIALECTS = ("postgres", "sqlite", "mysql")


def _check_options(dialect: str, pg_version: int | None) -> None:
    if dialect not in _DIALECTS:
        raise UsageError(f"unknown SQL dialect {dialect!r}", hint="use postgres, sqlite or mysql")
    if pg_version is not None and not 9 <= pg_version <= 99:
        raise UsageError(f"`pg_version` {pg_version} is not a PostgreSQL major version",
                         hint="for example `pg_version` 16", settings=("pg_version",))


def display_path(path: Path | str, cwd: str | None = None) -> str:
    """The path as reports show it: relative to the current folder when it is inside it."""
    text = os.fspath(path)
    if os.path.isabs(text):
        prefix = (cwd or os.getcwd()).rstrip(os.sep) + os.sep
        if text.startswith(prefix):
            text = text[len(prefix):]
    return text.replace(os.sep, "/") if os.sep != "/" else text


def _source_file(mf: MigrationFile, cwd: str | None = None) -> SourceFile:
    """The file to lint, its text read directly (a lint reads thousands of files, each once).

    Anything unusual (an unreadable file, bytes that are not UTF-8) is left to
    ``MigrationFile.text``, which says what is wrong and where.
    """
    path = str(mf.path)  # once: pathlib's str() and os.fspath() cost more than the read's own code
    text = _read_utf8(path)
    return SourceFile(display_path(path, cwd), mf.text if text is None else text, mf.version, mf.direction)


_READ_BLOCK = 64 * 1024


def _read_utf8(path: str) -> str | None:
    """The file decoded as UTF-8, or None if it cannot be read or decoded.

    One ``os.read`` of a block sized for migration files: about half the cost of
    ``open().read()`` (no buffered file object, no 8 KB buffer per file).
    """
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_CLOEXEC", 0))
    except OSError:
        return None
    try:
        data = os.read(fd, _READ_BLOCK)
        if len(data) == _READ_BLOCK:  # a large file: read the rest
            chunks = [data]
            while chunk := os.read(fd, 1024 * 1024):
                chunks.append(chunk)
            data = b"".join(chunks)
        return data.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


@cache
def _folder_index(folder: str) -> dict[tuple[int, str], Path]:
    """(version, direction) -> file, for one folder (read once per lint run)."""
    index: dict[tuple[int, str], Path] = {}
    try:
        names = os.listdir(folder or ".")
    except OSError:
        return index
    for name in names:
        match = MIGRATION_FILE_RE.match(name)
        if match:
            index.setdefault((int(match.group(1)), match.group(3)), Path(folder or ".") / name)
    return index


def _find_on_disk(file: SourceFile, origin: dict[str, Path]) -> SourceFile | None:
    """The other half of ``file``'s migration, read from its folder (None: there is none)."""
    path = origin.get(file.path)
    if path is None or file.version is None:
        return None
    other = "down" if file.direction == "up" else "up"
    found = _folder_index(str(path.parent)).get((file.version, other))
    if found is None:
        return None
    mf = MigrationFile(file.version, "", "up" if other == "up" else "down", found)
    return _source_file(mf)


def _earlier_on_disk(file: SourceFile, origin: dict[str, Path], linted: set[str]) -> list[SourceFile]:
    """The up files before ``file`` in its folder that are not being linted (``linted``: their
    paths), read from disk (unreadable ones are left out)."""
    path = origin.get(file.path)
    if path is None or file.version is None:
        return []
    found: list[SourceFile] = []
    for (version, direction), other in sorted(_folder_index(str(path.parent)).items()):
        if direction == "up" and version < file.version and str(other) not in linted:
            try:
                found.append(_source_file(MigrationFile(version, "", "up", other)))
            except (OSError, SourceError):
                continue  # not being linted: a file the engine cannot read fails on its own
    return found


def _run(files: Sequence[tuple[SourceFile, Path | None]], *, dialect: str, pg_version: int | None,
         config: LintConfig | None, notes: Iterable[str] = (), jobs: int | None = 1) -> LintReport:
    config = config or LintConfig()
    version = pg_version if pg_version is not None else config.pg_version
    _check_options(dialect, version)
    linter = Linter(dialect, pg_version=version if dialect == "postgres" else None, config=config)
    origin = {f.path: p for f, p in files if p is not None}
    _folder_index.cache_clear()
    linted = {str(p) for p in origin.values()}  # their text is at hand: not read again
    findings = lint_sources([f for f, _ in files], linter,
                            lambda file: _find_on_disk(file, origin), jobs=jobs,
                            find_earlier=lambda file: _earlier_on_disk(file, origin, linted))
    report = LintReport(findings=findings, files=[f.path for f, _ in files], dialect=dialect,
                        pg_version=version if dialect == "postgres" else None)
    report.notes.extend(notes)
    unknown = sorted(config.all_rule_ids() - set(linter.rules))
    for rule_id in unknown:
        report.notes.append(f"{config.source or 'lint config'}: ignores unknown rule {rule_id!r}")
    return report


def lint_migrations(files: Sequence[MigrationFile], *, dialect: str, pg_version: int | None = None,
                    config: LintConfig | None = None, jobs: int | None = 1) -> LintReport:
    """Lint migration files (the engine passes the pending ones before plan, up and goto).

    Up and down files of one version are paired by version for the down-file
    rules; a file whose partner is not in ``files`` is paired with the one in
    its folder, if any. Never raises for what it finds: callers decide whether
    error-level findings block (``report.fails()``). ``jobs=None`` lints large
    inputs on every CPU (forked processes); the default stays in this process.
    """
    cwd = os.getcwd()
    pairs = [(_source_file(mf, cwd), mf.path) for mf in files]
    return _run(pairs, dialect=dialect, pg_version=pg_version, config=config, jobs=jobs)


def _expand(paths: Sequence[str | os.PathLike[str]]) -> tuple[list[tuple[SourceFile, Path | None]], list[str]]:
    files: list[tuple[SourceFile, Path | None]] = []
    notes: list[str] = []
    seen: set[str] = set()
    cwd = os.getcwd()
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            source = load_source(path)
            notes.extend(str(w) for w in source.warnings)
            migration_files = [f for m in source.migrations.values() for f in (m.up, m.down) if f]
            # golang-migrate reads any extension (a MongoDB source holds .json); only SQL is linted.
            skipped = [f for f in migration_files if not f.path.name.lower().endswith(".sql")]
            if skipped:
                notes.append(f"{path}: {len(skipped)} migration file(s) without the .sql extension "
                             f"not linted (e.g. {skipped[0].path.name})")
                migration_files = [f for f in migration_files if f not in skipped]
            if not migration_files:
                notes.append(f"{path}: no migration files (VERSION_NAME.up.sql / .down.sql) found")
            # Resolve the folder once (symlinks included); its files are then told apart by name.
            folder = os.path.realpath(path)
            for mf in migration_files:
                key = os.path.join(folder, mf.path.name)
                if key not in seen:
                    seen.add(key)
                    files.append((_source_file(mf, cwd), mf.path))
        elif path.is_file():
            key = os.path.realpath(path)
            if key in seen:
                continue
            seen.add(key)
            files.append((_plain_file(path), path))
        else:
            raise UsageError(f"{str(path)!r} does not exist",
                             hint="pass migration files or folders (default: the `path` folder)",
                             settings=("path",))
    return files, notes


def _plain_file(path: Path) -> SourceFile:
    match = MIGRATION_FILE_RE.match(path.name)
    if match:
        direction: Direction = "up" if match.group(3) == "up" else "down"
        return _source_file(MigrationFile(int(match.group(1)), match.group(2), direction, path))
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path} is not valid UTF-8 (byte {exc.start})",
                         hint="save the file as UTF-8") from None
    return SourceFile(display_path(path), text)


def lint_paths(paths: Sequence[str | os.PathLike[str]], *, dialect: str = "postgres",
               pg_version: int | None = None, config: LintConfig | None = None,
               jobs: int | None = None) -> LintReport:
    """Lint files and folders of migrations (folders are read like golang-migrate's file source).

    ``jobs``: processes to use (None: one per CPU when there are enough files to gain from it).
    """
    files, notes = _expand(paths)
    return _run(files, dialect=dialect, pg_version=pg_version, config=config, notes=notes, jobs=jobs)


def lint_text(text: str, *, dialect: str = "postgres", path: str = "<sql>",
              pg_version: int | None = None, config: LintConfig | None = None,
              direction: str | None = None, partner_text: str | None = None,
              paired: bool = False) -> LintReport:
    """Lint SQL held in memory (editors, tests). With ``paired``, ``partner_text`` is the other
    half of the migration (None: it does not exist) and ``direction`` says which half ``text`` is."""
    if paired and direction not in ("up", "down"):
        raise UsageError("lint_text(paired=True) needs direction='up' or 'down'")
    config = config or LintConfig()
    version = pg_version if pg_version is not None else config.pg_version
    _check_options(dialect, version)
    linter = Linter(dialect, pg_version=version if dialect == "postgres" else None, config=config)
    if not paired:
        findings = lint_sources([SourceFile(path, text, direction=direction)], linter)
    else:
        other = "down" if direction == "up" else "up"
        main = SourceFile(f"1_{path}.{direction}.sql", text, 1, direction)
        files = [main]
        if partner_text is not None:
            files.append(SourceFile(f"1_{path}.{other}.sql", partner_text, 1, other))
        findings = lint_sources(files, linter, lambda _file: None)
    return LintReport(findings=findings, files=[path], dialect=dialect,
                      pg_version=version if dialect == "postgres" else None)
