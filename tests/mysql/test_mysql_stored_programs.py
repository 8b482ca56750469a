"""Issue 9, item 1 on MariaDB: stored programs with IF [NOT] EXISTS(...) THEN, written without
DELIMITER, apply as the server parses them; a file the splitter cannot read is refused before
anything runs; Harbor's MySQL migrations apply end to end."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pymysql
import pytest
from test_mysql_split import IF_EXISTS_BODIES, if_exists_file

from safemigrate import Migrator, SourceError, load_source, open_driver
from safemigrate.drivers.mysql import MysqlDriver
from safemigrate.urls import parse_database_url
from support import run_cli, unique_name, with_database, write_migrations

pytestmark = pytest.mark.mysql

HARBOR = Path(__file__).parent / "fixtures" / "harbor"


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(**MysqlDriver.connect_kwargs(parse_database_url(url)), autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]
    finally:
        conn.close()


def migrate_up(url: str, folder: Path) -> None:
    with Migrator(load_source(folder), open_driver(url)) as migrator:
        migrator.up()


def test_if_exists_bodies_apply_on_mariadb_statement_by_statement(mysql_url: str, tmp_path: Path) -> None:
    calls = {"if-exists": "CALL p_if_exists()", "if-not-exists-space": "CALL p_if_not_exists()",
             "nested-elseif": "CALL p_nested()", "while-repeat-case-labels": "CALL p_loops()",
             "function": "SELECT has_key('seen') INTO @has"}
    files: dict[str, str] = {}
    for version, name in enumerate(sorted(IF_EXISTS_BODIES), start=1):
        call = calls.get(name)
        text = if_exists_file(IF_EXISTS_BODIES[name])
        if version == 1:
            text = "CREATE TABLE cfg (k varchar(20), v varchar(20));\nINSERT INTO cfg VALUES ('a;b', '1');\n" + text
        files[f"{version}_{name.replace('-', '_')}.up.sql"] = text + (f"{call};\n" if call else "")
    write_migrations(tmp_path, files)
    migrate_up(mysql_url, tmp_path)
    assert fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") == [(len(files), 0)]
    seen = {row[0] for row in fetch(mysql_url, "SELECT v FROM cfg WHERE k = 'seen'")}
    assert seen == {"if-exists", "if-not-exists", "nested"}
    keys = {row[0] for row in fetch(mysql_url, "SELECT k FROM cfg")}
    assert {"w1", "w2", "case"} <= keys and "unreachable" not in keys
    assert fetch(mysql_url, "SELECT COUNT(*) FROM audit")[0][0] > 0  # the trigger ran on each INSERT
    routines = {row[0] for row in fetch(mysql_url, "SELECT ROUTINE_NAME FROM information_schema.ROUTINES "
                                                   "WHERE ROUTINE_SCHEMA = DATABASE()")}
    assert routines == {"p_if_exists", "p_if_not_exists", "p_nested", "p_loops", "has_key"}


def test_a_file_the_splitter_cannot_read_is_refused_before_anything_runs(
        mysql_url: str, tmp_path: Path) -> None:
    write_migrations(tmp_path, {
        "1_ok.up.sql": "CREATE TABLE kept (id int);\n",
        "2_stray.up.sql": "CREATE TABLE never (id int);\nSELECT 1;\n  END IF;\nEND;\n",
    })
    with pytest.raises(SourceError) as caught:
        migrate_up(mysql_url, tmp_path)
    message = caught.value.message
    assert "2_stray.up.sql:3:3: END starts a statement only inside the body" in message
    assert "nothing was applied" in message and "DELIMITER" in (caught.value.hint or "")
    # Refused while planning: not even the good first file ran, and no version was written.
    tables = {row[0] for row in fetch(mysql_url, "SHOW TABLES")}
    assert "kept" not in tables and "never" not in tables
    rows = fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") if "schema_migrations" in tables else []
    assert rows == []


def test_harbor_mysql_migrations_apply_end_to_end_on_mariadb(mysql_url: str, tmp_path: Path) -> None:
    folder = tmp_path / "harbor"
    shutil.copytree(HARBOR, folder, ignore=shutil.ignore_patterns("*.md"))
    result = run_cli("-path", str(folder), "-database", mysql_url, "up")
    assert result.exit_code == 0, result.stderr
    assert "4/u 1.8.0_schema" in result.stdout and "100/u 2.7.0_schema" in result.stdout
    assert fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") == [(100, 0)]
    # 0004's procedure ran whole: its IF exists(...) branches are in the stored body.
    [(body,)] = fetch(mysql_url, "SELECT ROUTINE_DEFINITION FROM information_schema.ROUTINES "
                                 "WHERE ROUTINE_SCHEMA = DATABASE() AND ROUTINE_NAME = 'PROC_UPDATE_ADMIN_JOB'")
    assert "IMAGE_SCAN_ALL" in body and body.rstrip().endswith("END")
    assert run_cli("-path", str(folder), "-database", mysql_url, "version").stdout.strip() == "100"


def _schema(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """What a migration run leaves behind: columns, indexes and stored programs, in a stable order."""
    queries = {
        "columns": "SELECT TABLE_NAME, COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_DEFAULT, EXTRA "
                   "FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
                   "AND TABLE_NAME NOT IN ('schema_migrations', 'safemigrate_history') ORDER BY 1, 2",
        "indexes": "SELECT TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX, COLUMN_NAME FROM information_schema.STATISTICS "
                   "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME NOT IN ('schema_migrations', "
                   "'safemigrate_history') ORDER BY 1, 2, 3",
        "routines": "SELECT ROUTINE_NAME, ROUTINE_DEFINITION FROM information_schema.ROUTINES "
                    "WHERE ROUTINE_SCHEMA = DATABASE() ORDER BY 1",
        "version": "SELECT version, dirty FROM schema_migrations",
    }
    return {name: fetch(url, sql) for name, sql in queries.items()}


@pytest.mark.slow
def test_harbor_leaves_the_same_schema_as_golang_migrate(
        mysql_url: str, mysql_admin_url: str, tmp_path: Path) -> None:
    """Optional: with SAFEMIGRATE_TEST_GOLANG_MIGRATE set to a golang-migrate binary."""
    binary = os.environ.get("SAFEMIGRATE_TEST_GOLANG_MIGRATE")
    if not binary:
        pytest.skip("set SAFEMIGRATE_TEST_GOLANG_MIGRATE to a golang-migrate binary to compare with it")
    folder = tmp_path / "harbor"
    shutil.copytree(HARBOR, folder, ignore=shutil.ignore_patterns("*.md"))
    assert run_cli("-path", str(folder), "-database", mysql_url, "up", "--no-lint").exit_code == 0
    theirs = unique_name("sm_gm")
    kwargs = MysqlDriver.connect_kwargs(parse_database_url(mysql_admin_url))
    kwargs["database"] = None
    if kwargs.get("password"):
        pytest.skip("the comparison runs golang-migrate with a password-less test account only")
    admin = pymysql.connect(**kwargs, autocommit=True)
    try:
        admin.cursor().execute(f"CREATE DATABASE `{theirs}`")
        dsn = f"mysql://{kwargs['user']}@tcp({kwargs['host']}:{kwargs['port']})/{theirs}?multiStatements=true"
        done = subprocess.run([binary, "-path", str(folder), "-database", dsn, "up"],
                              capture_output=True, text=True, timeout=300, check=False)
        assert done.returncode == 0, done.stderr
        assert _schema(with_database(mysql_admin_url, theirs)) == _schema(mysql_url)
    finally:
        admin.cursor().execute(f"DROP DATABASE IF EXISTS `{theirs}`")
        admin.close()
