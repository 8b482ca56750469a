"""Record classes without :mod:`dataclasses`: equality, ``repr``, hashing and read-only fields.

``@dataclass`` writes the source of each class's methods and compiles it when the module is
imported: about 3.5 M instructions a class, and 40 M more to import ``dataclasses`` itself
(``inspect``, ``ast``, ``dis``). The 36 classes that ``safemigrate lint`` defined at start-up were
half of its start-up, paid again by every CI run. A :class:`Record` writes its ``__init__`` out in
the class (compiled into the ``.pyc`` like any other code) and lists its fields as annotations;
``__eq__``, ``__repr__`` and, for a frozen record, ``__hash__``, the read-only fields and copying behave as
the dataclass's did: fields in declaration order (a base class's first), equality only between
instances of the same class, ``__hash__`` None for a mutable record that compares by value.
"""

from __future__ import annotations

from collections.abc import Callable
from operator import attrgetter
from typing import Any, ClassVar

__all__ = ["FrozenInstanceError", "Record"]


class FrozenInstanceError(AttributeError):
    """A field of a frozen record was assigned or deleted."""


def _getter(names: tuple[str, ...]) -> Callable[[Any], tuple[Any, ...]]:
    if len(names) == 1:  # attrgetter of one name returns the value itself, not a tuple
        one = attrgetter(names[0])
        return lambda obj: (one(obj),)
    if not names:
        return lambda obj: ()
    return attrgetter(*names)


class Record:
    """Base of a record class; ``class Name(Record, frozen=True, eq=True, hidden=(), uncompared=())``.

    ``hidden``: fields left out of ``repr``; ``uncompared``: fields left out of ``==`` and the hash.
    A method the class defines itself (``__eq__``, ``__hash__``, ``__repr__``) is kept.
    """

    __slots__ = ()
    _fields: ClassVar[tuple[str, ...]] = ()
    _shown: ClassVar[tuple[str, ...]] = ()
    _hidden: ClassVar[frozenset[str]] = frozenset()
    _uncompared: ClassVar[frozenset[str]] = frozenset()
    _compared: ClassVar[Callable[..., tuple[Any, ...]]]  # the compared fields of an instance, as a tuple

    def __init_subclass__(cls, *, frozen: bool = False, eq: bool = True, hidden: tuple[str, ...] = (),
                          uncompared: tuple[str, ...] = (), **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        # The class's own annotations (not inspect.get_annotations: importing inspect is what this avoids).
        own = tuple(name for name, kind in cls.__dict__.get("__annotations__", {}).items()  # noqa: RUF063
                    if not str(kind).startswith(("ClassVar", "typing.ClassVar")))
        cls._fields = cls._fields + tuple(name for name in own if name not in cls._fields)
        # a base's hidden and uncompared fields stay so in its subclasses (as a dataclass field(repr=False) does)
        cls._hidden = cls._hidden | frozenset(hidden)
        cls._uncompared = cls._uncompared | frozenset(uncompared)
        cls._shown = tuple(name for name in cls._fields if name not in cls._hidden)
        cls._compared = staticmethod(_getter(tuple(n for n in cls._fields if n not in cls._uncompared)))
        defined = cls.__dict__
        if eq and "__eq__" not in defined:
            cls.__eq__ = _eq  # type: ignore[assignment,method-assign]
            if "__hash__" not in defined:
                cls.__hash__ = _hash if frozen else None  # type: ignore[assignment,method-assign]
        if frozen:
            cls.__setattr__ = _frozen_setattr  # type: ignore[assignment,method-assign]
            cls.__delattr__ = _frozen_delattr  # type: ignore[assignment,method-assign]
            # copy, deepcopy and pickle would assign its fields: they rebuild it from its fields instead
            cls.__reduce__ = _reduce  # type: ignore[assignment,method-assign]

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self._shown)
        return f"{type(self).__qualname__}({shown})"


def _eq(self: Record, other: object) -> object:
    if other.__class__ is self.__class__:
        return bool(self._compared(self) == self._compared(other))
    return NotImplemented


def _hash(self: Record) -> int:
    return hash(self._compared(self))


def _reduce(self: Record) -> tuple[Callable[..., Record], tuple[Any, ...]]:
    # Not through __init__: its parameters need not be the fields, in order (keyword-only ones, defaults).
    return _rebuild, (type(self), {name: getattr(self, name) for name in self._fields})


def _rebuild(cls: type[Record], fields: dict[str, Any]) -> Record:
    record = object.__new__(cls)
    for name, value in fields.items():
        object.__setattr__(record, name, value)
    return record


def _frozen_setattr(self: Record, name: str, value: object) -> None:
    raise FrozenInstanceError(f"cannot assign to field {name!r}")


def _frozen_delattr(self: Record, name: str) -> None:
    raise FrozenInstanceError(f"cannot delete field {name!r}")
