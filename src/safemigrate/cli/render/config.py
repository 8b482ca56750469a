"""``config show``: each resolved setting, its value (passwords masked) and where it came from."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..output import Output

if TYPE_CHECKING:
    from ...commands import ConfigShowResult

__all__ = ["render_config_show"]


def render_config_show(out: Output, result: ConfigShowResult) -> None:
    def text() -> str:
        where = str(result.file) if result.file else "none found (defaults)"
        lines = [f"file: {where}", f"env:  {result.env or '(none)'}", ""]
        rows = result.rows
        width = max(len(name) for name, _value, _origin in rows)
        value_width = max(len(value) for _name, value, _origin in rows)
        lines += [f"{name:<{width}}  {value:<{value_width}}  ({origin})" for name, value, origin in rows]
        return "\n".join(lines)

    out.result(result.to_dict(), text)
