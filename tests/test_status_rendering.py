"""The status table: the same text as cell-by-cell padding, built without per-cell Python work.

``status`` of 10,000 migrations spent more time padding the table (a generator per cell for the
widths, another per row for the padding) than on anything else it prints. The table is now built
column by column with one format template; these tests check that the text is exactly the
cell-by-cell definition on hostile rows, and count the Python-level calls made per row (never time).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from hypothesis import given
from hypothesis import strategies as st

from safemigrate.status import MigrationStatus, status_table
from support import python_calls


def defined_table(migrations: list[MigrationStatus]) -> list[str]:
    """The definition (the rendering before issue 11's third round): pad every cell, cut the right."""
    header = ("VERSION", "NAME", "STATE", "APPLIED", "BY", "FLAGS")
    rows = [header]
    for m in migrations:
        rows.append((
            str(m.version), m.name, m.state,
            m.applied_at.strftime("%Y-%m-%d %H:%M:%S UTC") if m.applied_at else "",
            m.applied_by or "", ",".join(m.flags),
        ))
    widths = [max(len(r[i]) for r in rows) for i in range(len(header))]
    return ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]


_TEXT = st.text(alphabet=st.sampled_from(["a", "Z", "_", " ", "\t", "\u00e9", "\u3000", "\x1c", "{", "}", "%",
                                          "\u2028", "\U0001f600", "0"]), max_size=12)
_WHEN = st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 30),
                     timezones=st.sampled_from([UTC, timezone(timedelta(hours=5, minutes=30)),
                                                timezone(-timedelta(hours=8))]))
_ROW = st.builds(
    MigrationStatus,
    version=st.integers(min_value=0, max_value=2**63 - 1),
    name=_TEXT,
    state=st.sampled_from(["applied", "current", "pending", "dirty", "skipped"]),
    up_file=st.none(),
    down_file=st.none(),
    applied_at=st.none() | _WHEN,
    applied_by=st.none() | _TEXT,
    flags=st.lists(st.sampled_from(["edited", "no-down", "no-up", "skipped", " "]), max_size=3),
)


@given(st.lists(_ROW, max_size=12))
def test_the_table_is_the_cell_by_cell_padding(migrations: list[MigrationStatus]) -> None:
    assert status_table(migrations) == defined_table(migrations)


def rows(count: int) -> list[MigrationStatus]:
    when = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    return [MigrationStatus(v, f"create_table_{v}", "applied", f"m/{v}.up.sql", f"m/{v}.down.sql",
                            applied_at=when, applied_by="me@host (db user app)", checksum_matches=True)
            for v in range(1, count + 1)]


def test_the_table_costs_at_most_one_python_call_per_row() -> None:
    small, large = rows(200), rows(1200)
    extra = python_calls(lambda: status_table(large)) - python_calls(lambda: status_table(small))
    # One per row for 1,000 more rows: the applied time's text (a few more may come from the
    # garbage collector's callbacks). Before: 13 per row (a padding generator for each row, resumed
    # once per cell, and the width generators over every row), about 13,000.
    assert extra < 1100
