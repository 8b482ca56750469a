"""Write the command reference and the settings reference from the CLI and the config schema.

``python -m safemigrate.cli.docgen docs/commands`` writes one page per command (and per
subcommand of ``backup`` and ``config``) from click's own help, the index ``README.md`` grouped
by task as ``safemigrate --help`` is, and the settings table of ``docs/configuration.md``
(between its ``<!-- generated: settings -->`` and ``<!-- end -->`` markers) from the schema in
``safemigrate.config``. The pages are committed; tests/test_docgen.py fails when they are stale,
so the help and the docs cannot drift apart.

Everything here is deterministic: no terminal width, no environment, no time.
"""

from __future__ import annotations

import argparse
import inspect
import re
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

__all__ = ["SETTINGS_BEGIN", "SETTINGS_END", "command_pages", "main", "settings_reference", "update_settings"]

SETTINGS_BEGIN = "<!-- generated: settings -->"
SETTINGS_END = "<!-- end -->"
_REGENERATE = "python -m safemigrate.cli.docgen docs/commands"
_NOTICE = f"<!-- Generated from the CLI's help by `{_REGENERATE}`: edit the code, not this file. -->"


@dataclass(frozen=True)
class _Page:
    path: str  # "up", "backup create"
    command: click.Command
    ctx: click.Context

    @property
    def filename(self) -> str:
        return self.path.replace(" ", "-") + ".md"


def _root_context(cli: click.Group) -> click.Context:
    # With the group's own settings: click caches each command's help option from the first
    # context that asks, so a bare Context here would drop -h and -help for the whole process.
    return click.Context(cli, info_name="safemigrate", **cli.context_settings)


def _walk() -> Iterator[_Page]:
    """Every command, then each subcommand of a group, in ``safemigrate --help``'s order of names."""
    from .app import cli

    root = _root_context(cli)
    for name in cli.list_commands(root):
        command = cli.get_command(root, name)
        if command is None:
            continue
        ctx = click.Context(command, info_name=name, parent=root)
        yield _Page(name, command, ctx)
        if isinstance(command, click.Group):
            for sub_name in command.list_commands(ctx):
                sub = command.get_command(ctx, sub_name)
                if sub is not None:
                    yield _Page(f"{name} {sub_name}", sub, click.Context(sub, info_name=sub_name, parent=ctx))


def _global_names() -> set[str]:
    from .settings import GLOBAL_OPTIONS

    return {spec.name for spec in GLOBAL_OPTIONS} | {"version"}


def _summary(page: _Page) -> str:
    from .help import SUMMARIES

    return SUMMARIES.get(page.path) or page.command.get_short_help_str(limit=200)


def _paragraphs(text: str) -> list[str]:
    """click's help text as Markdown paragraphs; a ``\\b`` paragraph keeps its lines."""
    out: list[str] = []
    for block in re.split(r"\n\s*\n", inspect.cleandoc(text)):
        lines = block.splitlines()
        if lines and lines[0].strip() == "\b":
            out.append("\n".join(f"    {line}" for line in lines[1:]))
        else:
            out.append(" ".join(line.strip() for line in lines))
    return [p for p in out if p.strip()]


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _option_rows(page: _Page, *, shared: bool) -> list[tuple[str, str]]:
    """(spellings, help) of the command's own options (or, with ``shared``, the global ones)."""
    globals_ = _global_names()
    help_option = page.command.get_help_option(page.ctx)
    rows = []
    for param in page.command.get_params(page.ctx):
        if not isinstance(param, click.Option) or param.hidden:
            continue
        if (param.name in globals_ or param is help_option) != shared:
            continue
        record = param.get_help_record(page.ctx)
        if record is None:
            continue
        names, help_text = record
        rows.append((names, help_text or ""))
    return rows


def _usage(page: _Page) -> str:
    return " ".join(["Usage:", page.ctx.command_path, *page.command.collect_usage_pieces(page.ctx)])


def _table(rows: Sequence[tuple[str, str]], head: tuple[str, str]) -> list[str]:
    lines = [f"| {head[0]} | {head[1]} |", "|---|---|"]
    lines += [f"| `{_cell(a)}` | {_cell(b)} |" for a, b in rows]
    return lines


def _render_page(page: _Page, subpages: Sequence[_Page]) -> str:
    from .help import EXAMPLES

    summary = _summary(page)
    summary = summary[:1].upper() + summary[1:]
    lines = [_NOTICE, "", f"# `safemigrate {page.path}`", "", summary + ("" if summary.endswith(".") else "."), "",
             "```text", _usage(page), "```", ""]
    for paragraph in _paragraphs(page.command.help or ""):
        lines += [paragraph, ""]
    if subpages:
        lines += ["## Commands", "", "| command | does |", "|---|---|"]
        lines += [f"| [`{sub.path}`]({sub.filename}) | {_cell(_summary(sub))} |" for sub in subpages]
        lines.append("")
    own = _option_rows(page, shared=False)
    if own:
        lines += ["## Options", "", *_table(own, ("option", "meaning")), ""]
    if any(isinstance(p, click.Option) and p.name in _global_names() for p in page.command.get_params(page.ctx)):
        lines += ["The [global options](README.md#global-options) (`-database`, `-path`, `--env`, "
                  "`--format`, ...) are accepted too, before or after the command.", ""]
    if page.path in EXAMPLES:
        lines += ["## Examples", "", "```sh", *EXAMPLES[page.path], "```", ""]
    return "\n".join(lines)


def _render_index(pages: Sequence[_Page]) -> str:
    from .help import grouped_rows

    by_path = {page.path: page for page in pages}
    top = [page.path for page in pages if " " not in page.path]
    lines = [_NOTICE, "", "# Commands", "",
             "One page per command, generated from `safemigrate COMMAND --help`, grouped by task as "
             "`safemigrate --help` groups them.", ""]
    for title, rows in grouped_rows(top, {}):
        lines += [f"## {title}", "", "| command | does |", "|---|---|"]
        for path, summary in rows:
            page = by_path[path]
            lines.append(f"| [`safemigrate {path}`]({page.filename}) | {_cell(summary or _summary(page))} |")
            subs = [p for p in pages if p.path.startswith(path + " ") and p.path != path]
            if " " not in path:
                lines += [f"| [`safemigrate {sub.path}`]({sub.filename}) | {_cell(_summary(sub))} |"
                          for sub in subs]
        lines.append("")
    from .app import cli

    root = _Page("", cli, _root_context(cli))
    lines += ["## Global options", "",
              "Every command accepts these, before the command (`safemigrate -database URL up`, as "
              "golang-migrate requires) or after it (`safemigrate up --database URL`).", "",
              *_table(_option_rows(root, shared=True), ("option", "meaning")), "",
              "Settings can also come from `safemigrate.toml` and environment variables: see "
              "[configuration.md](../configuration.md).", ""]
    return "\n".join(lines)


def command_pages() -> dict[str, str]:
    """File name -> text of every page of docs/commands."""
    pages = list(_walk())
    files = {"README.md": _render_index(pages)}
    for page in pages:
        subs = [p for p in pages if p.path.startswith(page.path + " ")] if " " not in page.path else []
        files[page.filename] = _render_page(page, subs)
    return files


# -- the settings reference ---------------------------------------------------------------------

def _default_text(key: Any) -> str:
    if key.default is None:
        return "(not set)"
    if isinstance(key.default, bool):
        return "true" if key.default else "false"
    if isinstance(key.default, str):
        return f'`"{key.default}"`'
    return f"`{key.default}`"


def settings_reference() -> str:
    """The Markdown table of every setting of safemigrate.toml, from the schema in safemigrate.config."""
    from ..config import _BACKUP_KEYS, _KEYS, _RELEASE_KEYS, _type_name

    sections = [
        ("top level and `[env.NAME]`", "", _KEYS),
        ("`[backup]` (also `[env.NAME.backup]`)", "", _BACKUP_KEYS),
        ("`[release]` (also `[env.NAME.release]`)", "", _RELEASE_KEYS),
    ]
    lines = [f"<!-- Generated from safemigrate/config.py by `{_REGENERATE}`: edit the code, not this table. -->"]
    for title, _prefix, keys in sections:
        lines += ["", f"#### {title}", "", "| key | kind | default | environment | meaning |", "|---|---|---|---|---|"]
        for key in keys:
            env = f"`${key.env}`" if key.env else ""
            lines.append(f"| `{key.name}` | {_type_name(key.kind)} | {_default_text(key)} | {env} | "
                         f"{_cell(key.help)} |")
    return "\n".join(lines) + "\n"


def update_settings(text: str) -> str:
    """``text`` (docs/configuration.md) with the generated table between the markers replaced."""
    begin, end = text.find(SETTINGS_BEGIN), text.find(SETTINGS_END)
    if begin < 0 or end < begin:
        raise click.UsageError(f"the file has no {SETTINGS_BEGIN} ... {SETTINGS_END} markers")
    return text[: begin + len(SETTINGS_BEGIN)] + "\n" + settings_reference() + text[end:]


# -- writing ------------------------------------------------------------------------------------

def write_commands(folder: Path) -> list[Path]:
    """Write every page into ``folder``, removing pages of commands that no longer exist."""
    folder.mkdir(parents=True, exist_ok=True)
    files = command_pages()
    for stale in folder.glob("*.md"):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        target = folder / name
        target.write_text(text, encoding="utf-8")
        written.append(target)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m safemigrate.cli.docgen",
        description="Write docs/commands/*.md from the CLI's help, and the settings table of "
                    "docs/configuration.md (the file beside the folder) from the config schema.")
    parser.add_argument("folder", type=Path, help="where the command pages go, e.g. docs/commands")
    parser.add_argument("--configuration", type=Path, default=None,
                        help="the page whose settings table to update (default: FOLDER/../configuration.md)")
    args = parser.parse_args(argv)
    written = write_commands(args.folder)
    print(f"wrote {len(written)} pages into {args.folder}")
    configuration = args.configuration or args.folder.parent / "configuration.md"
    if configuration.is_file():
        text = configuration.read_text(encoding="utf-8")
        try:
            configuration.write_text(update_settings(text), encoding="utf-8")
        except click.UsageError as exc:
            print(f"error: {configuration}: {exc.message}", file=sys.stderr)
            return 2
        print(f"updated the settings table of {configuration}")
    elif args.configuration is not None:
        print(f"error: {configuration} does not exist", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
