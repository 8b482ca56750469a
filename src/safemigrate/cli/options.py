"""The shared options as click decorators, built from the one table in ``settings.py``.

They are accepted before the command (``safemigrate -database URL up``, as
golang-migrate requires) and after it (``safemigrate up --database URL``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from .settings import GLOBAL_OPTIONS, OptionSpec, Settings, store_option

__all__ = ["Settings", "global_options", "settings_of"]

F = TypeVar("F", bound=Callable[..., Any])


def settings_of(ctx: click.Context) -> Settings:
    return ctx.ensure_object(Settings)


def _store(ctx: click.Context, param: click.Parameter, value: Any) -> None:
    store_option(settings_of(ctx), param.name or "", value)


def _click_option(spec: OptionSpec) -> Callable[[F], F]:
    kwargs: dict[str, Any] = {"default": None, "expose_value": False, "callback": _store,
                              "help": spec.help}
    if spec.kind == "flag":
        kwargs.update(is_flag=True, default=False)
    elif spec.kind == "uint":
        kwargs.update(type=click.IntRange(min=0), metavar=spec.metavar)
    elif spec.kind == "choice":
        kwargs.update(type=click.Choice(list(spec.choices)))
    else:
        kwargs.update(metavar=spec.metavar)
    return click.option(*spec.spellings, spec.name, **kwargs)


def global_options(func: F) -> F:
    """Attach the shared options to a command or to the group."""
    for spec in reversed(GLOBAL_OPTIONS):
        func = _click_option(spec)(func)
    return func
