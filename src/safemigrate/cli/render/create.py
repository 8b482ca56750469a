"""``create``: the two files made (without the engine: create starts fast)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..output import Output

if TYPE_CHECKING:
    from ...create import CreatedFiles

__all__ = ["render_created"]


def render_created(out: Output, created: CreatedFiles) -> None:
    out.result({"ok": True, "command": "create", "version": created.version, "up": str(created.up),
                "down": str(created.down)}, f"{created.up}\n{created.down}")
