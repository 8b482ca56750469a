"""Is an :class:`~safemigrate.recover.effects.Effect` present in the database's catalog?

PostgreSQL: ``pg_class``, ``pg_attribute``, ``pg_index.indisvalid``, ``pg_constraint.convalidated``,
``pg_type``, ``pg_enum``, ``pg_proc``, ``pg_trigger``, ``pg_namespace``, ``pg_extension``.
MySQL and MariaDB: ``information_schema``. SQLite: ``sqlite_schema`` and ``pragma table_info``.
Read-only.
"""

from __future__ import annotations

from typing import Literal

from ..drivers.base import Driver
from .effects import Effect

__all__ = ["Presence", "probe"]

Presence = Literal["present", "absent", "invalid", "unknown"]


def probe(driver: Driver, effect: Effect) -> tuple[Presence, str]:
    """(presence, a note such as "index exists but is INVALID")."""
    if driver.dialect == "postgres":
        return _postgres(driver, effect)
    if driver.dialect == "mysql":
        return _mysql(driver, effect)
    return _sqlite(driver, effect)


def _regclass(name: str) -> str:
    """``schema.table`` as to_regclass() reads it, every part quoted (the parser already folded case)."""
    return ".".join('"' + part.replace('"', '""') + '"' for part in name.split("."))


def _one(driver: Driver, sql: str, params: list[object]) -> object:
    rows = driver.query(sql, params)
    return rows[0][0] if rows else None


def _postgres(driver: Driver, effect: Effect) -> tuple[Presence, str]:
    kind = effect.kind
    if kind in ("table", "view", "sequence"):
        found = _one(driver, "SELECT to_regclass(%s) IS NOT NULL", [_regclass(effect.name)])
        return ("present" if found else "absent"), ""
    if kind == "index":
        row = driver.query("SELECT i.indisvalid FROM pg_index i WHERE i.indexrelid = to_regclass(%s)",
                           [_regclass(effect.name)])
        if not row:
            return "absent", ""
        return ("present", "") if row[0][0] else ("invalid", f"index {effect.name} exists but is INVALID")
    if kind in ("column", "not_null"):
        row = driver.query("SELECT a.attnotnull FROM pg_attribute a WHERE a.attrelid = to_regclass(%s) "
                           "AND a.attname = %s AND a.attnum > 0 AND NOT a.attisdropped",
                           [_regclass(effect.table or ""), effect.name])
        if kind == "column":
            return ("present" if row else "absent"), ""
        if not row:
            return "unknown", f"column {effect.table}.{effect.name} does not exist"
        return ("present" if row[0][0] else "absent"), ""
    if kind == "constraint":
        row = driver.query("SELECT convalidated FROM pg_constraint WHERE conrelid = to_regclass(%s) "
                           "AND conname = %s", [_regclass(effect.table or ""), effect.name])
        if not row:
            return "absent", ""
        return "present", "" if row[0][0] else f"constraint {effect.name} exists, NOT VALID"
    if kind == "type":
        found = _one(driver, "SELECT to_regtype(%s) IS NOT NULL", [_regclass(effect.name)])
        return ("present" if found else "absent"), ""
    if kind == "enum_value":
        found = _one(driver, "SELECT count(*) FROM pg_enum WHERE enumtypid = to_regtype(%s) AND enumlabel = %s",
                     [_regclass(effect.table or ""), effect.name])
        return ("present" if found else "absent"), ""
    if kind == "function":
        found = _one(driver, "SELECT count(*) FROM pg_proc WHERE proname = %s", [effect.name.split(".")[-1]])
        return ("present" if found else "absent"), ""
    if kind == "trigger":
        found = _one(driver, "SELECT count(*) FROM pg_trigger WHERE tgrelid = to_regclass(%s) AND tgname = %s",
                     [_regclass(effect.table or ""), effect.name])
        return ("present" if found else "absent"), ""
    if kind == "schema":
        found = _one(driver, "SELECT count(*) FROM pg_namespace WHERE nspname = %s", [effect.name])
        return ("present" if found else "absent"), ""
    if kind == "extension":
        found = _one(driver, "SELECT count(*) FROM pg_extension WHERE extname = %s", [effect.name])
        return ("present" if found else "absent"), ""
    return "unknown", ""


_MYSQL_QUERIES = {
    "table": "SELECT count(*) FROM information_schema.tables WHERE table_schema = DATABASE() "
             "AND table_type = 'BASE TABLE' AND LOWER(table_name) = LOWER(%s)",
    "view": "SELECT count(*) FROM information_schema.views WHERE table_schema = DATABASE() "
            "AND LOWER(table_name) = LOWER(%s)",
    "trigger": "SELECT count(*) FROM information_schema.triggers WHERE trigger_schema = DATABASE() "
               "AND LOWER(trigger_name) = LOWER(%s)",
    "function": "SELECT count(*) FROM information_schema.routines WHERE routine_schema = DATABASE() "
                "AND LOWER(routine_name) = LOWER(%s)",
}


def _mysql(driver: Driver, effect: Effect) -> tuple[Presence, str]:
    if effect.kind in _MYSQL_QUERIES:
        found = _one(driver, _MYSQL_QUERIES[effect.kind], [effect.name])
        return ("present" if found else "absent"), ""
    if effect.kind == "column":
        found = _one(driver, "SELECT count(*) FROM information_schema.columns WHERE table_schema = DATABASE() "
                     "AND LOWER(table_name) = LOWER(%s) AND LOWER(column_name) = LOWER(%s)",
                     [effect.table, effect.name])
        return ("present" if found else "absent"), ""
    if effect.kind == "index":
        found = _one(driver, "SELECT count(*) FROM information_schema.statistics WHERE table_schema = DATABASE() "
                     "AND LOWER(table_name) = LOWER(%s) AND LOWER(index_name) = LOWER(%s)",
                     [effect.table, effect.name])
        return ("present" if found else "absent"), ""
    if effect.kind == "constraint":
        found = _one(driver, "SELECT count(*) FROM information_schema.table_constraints "
                     "WHERE constraint_schema = DATABASE() AND LOWER(table_name) = LOWER(%s) "
                     "AND LOWER(constraint_name) = LOWER(%s)", [effect.table, effect.name])
        return ("present" if found else "absent"), ""
    return "unknown", ""


def _sqlite(driver: Driver, effect: Effect) -> tuple[Presence, str]:
    if effect.kind in ("table", "view", "index", "trigger"):
        found = _one(driver, "SELECT count(*) FROM sqlite_schema WHERE type = ? AND lower(name) = lower(?)",
                     [effect.kind, effect.name])
        return ("present" if found else "absent"), ""
    if effect.kind == "column":
        table = (effect.table or "").replace('"', '""')
        columns = {str(row[1]).lower() for row in driver.query(f'PRAGMA table_info("{table}")')}
        if not columns:
            return "unknown", f"table {effect.table} does not exist"
        return ("present" if effect.name.lower() in columns else "absent"), ""
    return "unknown", ""
