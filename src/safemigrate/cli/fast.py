"""``safemigrate version`` without loading click.

``version`` is what deploy scripts and health checks call most, so it starts as
fast as it can: when the command line is the global options plus ``version``
(read from the same option table as the click commands), it runs here; any
other spelling, ``--help`` included, goes to click, which also reports errors.
"""

from __future__ import annotations

from collections.abc import Sequence

from .settings import GLOBAL_OPTIONS, OptionSpec, Settings, store_option

__all__ = ["GLOBAL_SPELLINGS", "option_value", "parse_version_command", "read_global", "read_global_options",
           "show_version"]

# Every spelling of the shared options (-path, --path, -database...), for the click-free readers
# of this module, fast_lint.py and fast_engine.py.
GLOBAL_SPELLINGS: dict[str, OptionSpec] = {s: spec for spec in GLOBAL_OPTIONS for s in spec.spellings}


def parse_version_command(argv: Sequence[str], settings: Settings) -> bool:
    """Fill ``settings`` and return True if ``argv`` is exactly [options] version [options]
    (each option once on each side, read as :func:`read_global` reads it; anything else is click's)."""
    if "version" not in argv:
        return False
    at = list(argv).index("version")
    before = read_global_options(argv[:at], GLOBAL_SPELLINGS)
    after = read_global_options(argv[at + 1:], GLOBAL_SPELLINGS)
    if before is None or after is None:
        return False
    for name, value in [*before.items(), *after.items()]:  # in order: a repeated option's last value wins
        store_option(settings, name, value)
    return True


def show_version(settings: Settings) -> None:
    """Print ``3`` or ``3 (dirty)``; no version is golang-migrate's ``no migration`` error."""
    from ..drivers import open_driver
    from ..drivers.base import check_lock_timeout
    from ..errors import NoMigrationError
    from ..urls import parse_database_url

    lock_timeout = check_lock_timeout(settings.effective_lock_timeout())
    driver = open_driver(parse_database_url(settings.database_url()))
    driver.lock_wait_timeout = lock_timeout  # a locked version table fails after it, naming the holder
    driver.connect()
    try:
        state = driver.read_version()
    finally:
        driver.close()
    if state.version is None and not state.dirty:
        raise NoMigrationError("no migration", hint="no version has been applied yet: run safemigrate up")
    shown = f"{state.as_int} (dirty)" if state.dirty else str(state.as_int)
    settings.output.result({"ok": True, "version": state.version, "dirty": state.dirty}, shown)


def read_global_options(argv: Sequence[str], table: dict[str, OptionSpec]) -> dict[str, object] | None:
    """The shared options of ``argv`` (every token must be one of them), None if unsure."""
    values: dict[str, object] = {}
    i = 0
    while i < len(argv):
        read = read_global(argv, i, table)
        if read is None:
            return None
        name, value, i = read
        if name in values:
            return None
        values[name] = value
    return values


def read_global(argv: Sequence[str], i: int, table: dict[str, OptionSpec]) -> tuple[str, object, int] | None:
    """One shared option at ``argv[i]``: (name, value, next index), None if it is not one or looks odd."""
    name, equals, inline = argv[i].partition("=")
    has_equals = bool(equals)
    spec = table.get(name)
    if spec is None:
        return None
    if not spec.takes_value:
        return None if has_equals else (spec.name, True, i + 1)
    value, following = option_value(argv, i, has_equals, inline)
    if value is None:
        return None
    if spec.kind == "uint":
        return (spec.name, int(value), following) if value.isascii() and value.isdigit() else None
    if spec.kind == "choice" and value not in spec.choices:
        return None
    return spec.name, value, following


def option_value(argv: Sequence[str], i: int, has_equals: bool, inline: str) -> tuple[str | None, int]:
    """An option's value (inline after ``=`` or the next token) and the index after it."""
    if has_equals:
        return inline, i + 1
    if i + 1 >= len(argv) or argv[i + 1].startswith("-"):
        return None, i + 1  # missing, or a value that looks like an option: click decides
    return argv[i + 1], i + 2
