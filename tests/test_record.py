"""Records (``_record.py``) behave as the dataclasses they replaced: equality, hash, repr, read-only fields, copies."""

from __future__ import annotations

import copy
import pickle

import pytest

from safemigrate._record import FrozenInstanceError, Record
from safemigrate.events import StepFinished, StepStarted


class Point(Record, frozen=True, hidden=("note",), uncompared=("note",)):
    x: int
    y: int
    note: str

    def __init__(self, x: int, y: int, note: str = "") -> None:
        self.__dict__.update(x=x, y=y, note=note)


class Labelled(Point, frozen=True):
    label: str

    def __init__(self, x: int, y: int, label: str) -> None:
        super().__init__(x, y)
        self.__dict__.update(label=label)


class Bag(Record):
    items: list[int]

    def __init__(self, items: list[int]) -> None:
        self.items = items


def test_a_frozen_record_compares_and_hashes_by_its_compared_fields_only() -> None:
    assert Point(1, 2, "a") == Point(1, 2, "b")
    assert hash(Point(1, 2, "a")) == hash(Point(1, 2, "b"))
    assert Point(1, 2) != Point(2, 1)
    assert len({Point(1, 2), Point(1, 2, "other"), Point(3, 4)}) == 2


def test_records_of_different_classes_are_never_equal() -> None:
    assert Point(1, 2) != Labelled(1, 2, "p")
    assert Point(1, 2) != (1, 2)


def test_a_subclass_lists_its_base_fields_first_and_repr_leaves_hidden_fields_out() -> None:
    assert Labelled._fields == ("x", "y", "note", "label")
    assert repr(Labelled(1, 2, "p")) == "Labelled(x=1, y=2, label='p')"
    assert repr(Point(1, 2, "secret")) == "Point(x=1, y=2)"


def test_a_frozen_record_refuses_assignment_and_deletion() -> None:
    point = Point(1, 2)
    with pytest.raises(FrozenInstanceError):
        point.x = 3  # type: ignore[misc]
    with pytest.raises(FrozenInstanceError):
        del point.y
    assert isinstance(FrozenInstanceError("x"), AttributeError)  # as dataclasses' own error is
    assert (point.x, point.y) == (1, 2)


def test_a_frozen_record_survives_copy_deepcopy_and_pickle() -> None:
    point = Labelled(1, 2, "p")
    for twin in (copy.copy(point), copy.deepcopy(point), pickle.loads(pickle.dumps(point))):
        assert twin == point and twin is not point
        assert twin.label == "p"


def test_a_mutable_record_compares_by_value_and_is_unhashable() -> None:
    bag = Bag([1])
    bag.items.append(2)
    bag.items = [1, 2]
    assert bag == Bag([1, 2])
    with pytest.raises(TypeError):
        hash(bag)


def test_an_event_is_read_only_and_its_dict_keeps_the_declared_field_order() -> None:
    event = StepStarted("db", version=3, name="users", direction="up", index=0, total=1, mode="transaction",
                        at="2026-12-01T00:00:00.000+00:00")
    with pytest.raises(FrozenInstanceError):
        event.version = 4  # type: ignore[misc]
    assert list(event.to_dict()) == ["event", "database", "at", "version", "name", "direction", "index", "total",
                                     "mode", "file"]
    assert event.to_dict()["event"] == "step_started"
    assert event == StepStarted("db", version=3, name="users", direction="up", index=0, total=1,
                                mode="transaction", at="2026-12-01T00:00:00.000+00:00")
    finished = StepFinished("db", version=3, name="users", direction="up", duration_ms=1.23456, statements=2)
    assert finished.to_dict()["duration_ms"] == 1.235 and finished.at.endswith("+00:00")
