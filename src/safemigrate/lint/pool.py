"""Linting on several CPUs: forked workers that take the next piece of work as they go.

The files are cut into units that must stay together (a version's up and down
files), largest first. Every unit's number is written into a pipe before the
workers fork; each process, the parent included, reads the next number when it
is free (a 4-byte read from a pipe is atomic), so a worker that meets large
files simply takes fewer units and all finish at about the same time. Sharing
out the files in advance by their size left one process with twice the work of
the other on real folders, whose files differ in cost by far more than in size.

A child sends back the numbers it took and its findings, as tuples (cheaper to
pickle and unpickle than the objects). Whatever a child did not deliver (it
failed, or was killed) is linted again in the parent, so errors surface exactly
as in one process. Findings are the same whichever process linted a file.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from operator import attrgetter
from typing import Any

from .model import Finding

__all__ = ["MAX_UNITS", "lint_forked"]

# At most this many 4-byte numbers, so they fit in the smallest pipe Linux makes (one page):
# writing them all before the fork never blocks. Larger inputs put several groups in a unit.
MAX_UNITS = 1024
_TOKEN = 4

_FIELDS = Finding._fields
_as_tuple = attrgetter(*_FIELDS)

Group = Sequence[Any]  # the files that are linted together (an up file and its down file)


def lint_forked(groups: Sequence[Group], lint: Callable[[Sequence[Group]], list[Finding]],
                workers: int, weight: Callable[[Group], int]) -> list[Finding]:
    """Lint ``groups`` with ``lint`` in this process and ``workers - 1`` forked ones.

    ``weight`` estimates a group's cost, to hand out the largest first. The findings
    come back unsorted.
    """
    import gc
    import pickle

    units = _units(groups, weight)
    claims_read, claims_write = os.pipe()
    os.write(claims_write, b"".join(i.to_bytes(_TOKEN, "little") for i in range(len(units))))
    os.close(claims_write)  # the queue is complete: a read at its end returns nothing
    children: list[tuple[int, int]] = []
    # Keep the collector off the objects that exist now, so the children do not copy their pages.
    gc.freeze()
    try:
        for _ in range(workers - 1):
            child = _fork_worker(claims_read, units, lint)
            if child is None:
                break  # no more processes to be had: the others share the work
            children.append(child)
    finally:
        gc.unfreeze()
    taken, findings = _work_through(claims_read, units, lint)
    os.close(claims_read)
    done = set(taken)
    for pid, results in children:
        with os.fdopen(results, "rb") as pipe:
            data = pipe.read()
        _, status = os.waitpid(pid, 0)
        if os.waitstatus_to_exitcode(status) != 0 or not data:
            continue  # its units are linted again below
        child_taken, rows = pickle.loads(data)
        done.update(child_taken)
        findings.extend(_finding(row) for row in rows)
    missed = [unit for number, unit in enumerate(units) if number not in done]
    for unit in missed:
        findings.extend(lint(unit))
    return findings


def _units(groups: Sequence[Group], weight: Callable[[Group], int]) -> list[list[Group]]:
    """The groups, heaviest first, in at most MAX_UNITS units of consecutive groups."""
    ordered = sorted(groups, key=weight, reverse=True)
    size = -(-len(ordered) // MAX_UNITS)  # ceiling division
    return [ordered[i:i + size] for i in range(0, len(ordered), size)]


def _fork_worker(claims: int, units: list[list[Group]],
                 lint: Callable[[Sequence[Group]], list[Finding]]) -> tuple[int, int] | None:
    """Start a worker; (its pid, the pipe its results come through), or None if fork fails."""
    import pickle

    read_end, write_end = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(read_end)
        os.close(write_end)
        return None
    if pid == 0:  # the child: lint, send, and leave without running the parent's cleanup
        code = 0
        try:
            os.close(read_end)
            taken, findings = _work_through(claims, units, lint)
            data = pickle.dumps((taken, [_as_tuple(f) for f in findings]), pickle.HIGHEST_PROTOCOL)
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            code = 1
        finally:
            os._exit(code)
    os.close(write_end)
    return pid, read_end


def _work_through(claims: int, units: list[list[Group]],
                  lint: Callable[[Sequence[Group]], list[Finding]]) -> tuple[list[int], list[Finding]]:
    """Take units from the queue until it is empty; the numbers taken and their findings."""
    taken: list[int] = []
    findings: list[Finding] = []
    while len(token := os.read(claims, _TOKEN)) == _TOKEN:
        number = int.from_bytes(token, "little")
        taken.append(number)
        findings.extend(lint(units[number]))
    return taken, findings


def _finding(row: tuple[Any, ...]) -> Finding:
    """A Finding from its fields in declaration order (as ``_as_tuple`` gives them).

    Filled in directly rather than through ``__init__`` (keyword arguments for 13 fields).
    """
    finding: Finding = object.__new__(Finding)
    finding.__dict__.update(zip(_FIELDS, row, strict=True))
    return finding
