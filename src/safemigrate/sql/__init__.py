"""Splitting migration files into statements, per SQL dialect.

Each dialect uses the database's own grammar or tokenizer (pglast for
PostgreSQL, SQLite's ``complete_statement`` for SQLite) so that strings,
comments, dollar-quoted and ``BEGIN ATOMIC`` bodies and trigger bodies survive.
The result also tells the runner whether the file can run in one transaction.
"""

from __future__ import annotations

from .script import NO_TRANSACTION_MARKER, ParseProblem, Script, Statement, split_sql

__all__ = ["NO_TRANSACTION_MARKER", "ParseProblem", "Script", "Statement", "split_sql"]
