"""Lint settings from ``.safemigrate.toml`` (table ``[lint]``) or ``pyproject.toml`` (``[tool.safemigrate.lint]``).

Keys: ``ignore`` (rule ids never reported), ``per-file-ignores`` (glob -> rule ids),
``fail-on`` (``error`` or ``warning``) and ``pg-version`` (major version, e.g. 16).
The nearest file from the current folder upwards wins; command-line options win over it.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping
from pathlib import Path, PurePosixPath
from typing import Any

from .._record import Record
from ..errors import UsageError
from .model import Severity

__all__ = ["LintConfig", "find_config", "load_config"]


class LintConfig(Record, frozen=True):
    ignore: frozenset[str]
    per_file_ignores: tuple[tuple[str, frozenset[str]], ...]
    fail_on: Severity | None
    pg_version: int | None
    source: str | None  # the file it was read from

    def __init__(self, ignore: frozenset[str] = frozenset(),
                 per_file_ignores: tuple[tuple[str, frozenset[str]], ...] = (), fail_on: Severity | None = None,
                 pg_version: int | None = None, source: str | None = None) -> None:
        self.__dict__.update(ignore=ignore, per_file_ignores=per_file_ignores, fail_on=fail_on,
                             pg_version=pg_version, source=source)

    def ignored_for(self, path: str) -> frozenset[str]:
        """Rule ids that are not reported for ``path`` (a display path)."""
        if not self.per_file_ignores:
            return self.ignore
        ids = set(self.ignore)
        posix = PurePosixPath(path.replace("\\", "/"))
        for pattern, rule_ids in self.per_file_ignores:
            if fnmatch.fnmatch(str(posix), pattern) or fnmatch.fnmatch(posix.name, pattern):
                ids |= rule_ids
        return frozenset(ids)

    def all_rule_ids(self) -> set[str]:
        ids = set(self.ignore)
        for _, rule_ids in self.per_file_ignores:
            ids |= rule_ids
        return ids


def _string_list(value: Any, key: str, where: str) -> frozenset[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise UsageError(f"{where}: {key} must be a list of rule ids",
                         hint='for example: ignore = ["prefer-identity"]')
    return frozenset(v.strip() for v in value)


def config_from_mapping(data: Mapping[str, Any], where: str = "lint config") -> LintConfig:
    known = {"ignore", "per-file-ignores", "fail-on", "pg-version"}
    unknown = sorted(set(data) - known)
    if unknown:
        raise UsageError(f"{where}: unknown lint setting {unknown[0]!r}",
                         hint="known settings: " + ", ".join(sorted(known)))
    ignore = _string_list(data.get("ignore", []), "ignore", where)
    per_file: list[tuple[str, frozenset[str]]] = []
    raw_per_file = data.get("per-file-ignores", {})
    if not isinstance(raw_per_file, dict):
        raise UsageError(f"{where}: per-file-ignores must be a table of glob = [rule ids]")
    for pattern, ids in raw_per_file.items():
        per_file.append((str(pattern), _string_list(ids, f"per-file-ignores.{pattern}", where)))
    fail_on = data.get("fail-on")
    if fail_on is not None and fail_on not in ("error", "warning"):
        raise UsageError(f"{where}: fail-on must be 'error' or 'warning', not {fail_on!r}")
    pg_version = data.get("pg-version")
    if pg_version is not None and (isinstance(pg_version, bool) or not isinstance(pg_version, int)
                                   or not 9 <= pg_version <= 99):
        raise UsageError(f"{where}: pg-version must be a PostgreSQL major version such as 16")
    return LintConfig(
        ignore=ignore,
        per_file_ignores=tuple(per_file),
        fail_on=Severity(fail_on) if fail_on else None,
        pg_version=pg_version,
        source=where,
    )


def _read_toml(path: Path) -> dict[str, Any]:
    """The parsed file; the last one is kept, as finding a config reads it and loading reads it again."""
    global _LAST_READ
    key = (str(path), _mtime(path))
    if _LAST_READ is not None and _LAST_READ[0] == key:
        return _LAST_READ[1]
    data = _parse_toml(path)
    _LAST_READ = (key, data)
    return data


_LAST_READ: tuple[tuple[str, int], dict[str, Any]] | None = None


def _mtime(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return -1


def _parse_toml(path: Path) -> dict[str, Any]:
    import tomllib  # only when there is a config file to read

    try:
        with path.open("rb") as handle:
            return tomllib.load(handle)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    except OSError as exc:
        raise UsageError(f"cannot read {path}: {exc.strerror}") from None


def find_config(start: Path | None = None) -> Path | None:
    """The nearest ``.safemigrate.toml``, or ``pyproject.toml`` with a [tool.safemigrate.lint] table."""
    folder = (start or Path.cwd()).resolve()
    for candidate_dir in (folder, *folder.parents):
        dotfile = candidate_dir / ".safemigrate.toml"
        if dotfile.is_file():
            return dotfile
        pyproject = candidate_dir / "pyproject.toml"
        if pyproject.is_file() and "safemigrate" in pyproject.read_text("utf-8", errors="replace"):
            data = _read_toml(pyproject)
            if isinstance(data.get("tool", {}).get("safemigrate", {}).get("lint"), dict):
                return pyproject
    return None


def load_config(path: Path | None = None, *, start: Path | None = None) -> LintConfig:
    """Read the lint settings from ``path``, or from the nearest config file; defaults when none."""
    found = path or find_config(start)
    if found is None:
        return LintConfig()
    if path is not None and not path.is_file():
        raise UsageError(f"config file {str(path)!r} does not exist")
    data = _read_toml(found)
    if found.name == "pyproject.toml":
        section = data.get("tool", {}).get("safemigrate", {}).get("lint", {})
        where = f"{found} [tool.safemigrate.lint]"
    else:
        section = data.get("lint", {})
        where = f"{found} [lint]"
    if not isinstance(section, dict):
        raise UsageError(f"{where} must be a table")
    return config_from_mapping(section, where)
