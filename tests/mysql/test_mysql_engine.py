"""Issue 3's acceptance on MariaDB, through the engine and the command line.

* a migration with a procedure under ``DELIMITER //`` applies;
* one that fails at its third statement leaves the database dirty, the history
  table records the first two statements as committed, and the error names the
  failing line;
* two processes running ``up`` at once apply each migration exactly once;
* a golang-migrate run holding the lock makes ``up`` wait, then fail naming it.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pymysql
import pytest

from safemigrate import MigrationFailedError, Migrator, load_source, open_driver
from safemigrate.drivers.mysql import MysqlDriver
from safemigrate.urls import parse_database_url
from support import assert_no_secret, run_cli, write_migrations

pytestmark = pytest.mark.mysql

PROCEDURE_UP = """\
CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);

DELIMITER //
CREATE PROCEDURE bump(IN k int)
BEGIN
  -- a ; in a comment and one in a string: ';'
  INSERT INTO counters VALUES (k, 1) ON DUPLICATE KEY UPDATE n = n + 1;
END //
DELIMITER ;

CALL bump(1);
CALL bump(1);
"""
PROCEDURE_DOWN = "DROP PROCEDURE bump;\nDROP TABLE counters;\n"

FAILS_AT_THIRD = """\
-- two statements commit, then the third fails
CREATE TABLE a (id int);
INSERT INTO a VALUES (1);
INSERT INTO a
  VALUES (1, 2, 3);
CREATE TABLE c (id int);
"""


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = pymysql.connect(**MysqlDriver.connect_kwargs(parse_database_url(url)), autocommit=True)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]
    finally:
        conn.close()


def test_a_procedure_under_delimiter_applies_and_rolls_back(mysql_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {
        "000001_bump.up.sql": PROCEDURE_UP, "000001_bump.down.sql": PROCEDURE_DOWN,
    })
    args = ("-path", str(folder), "-database", mysql_url)
    result = run_cli(*args, "up")
    assert result.exit_code == 0, result.output
    assert run_cli(*args, "version").stdout == "1\n"
    assert fetch(mysql_url, "SELECT id, n FROM counters") == [(1, 2)]
    assert fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") == [(1, 0)]
    (row,) = fetch(mysql_url, "SELECT outcome, mode, statements_total, statements_committed "
                              "FROM safemigrate_history")
    assert row == ("applied", "statements", 4, 4)
    result = run_cli(*args, "down", "-all")
    assert result.exit_code == 0, result.output
    assert fetch(mysql_url, "SELECT COUNT(*) FROM information_schema.ROUTINES "
                            "WHERE ROUTINE_SCHEMA = DATABASE()") == [(0,)]


def test_failing_at_the_third_statement_leaves_it_dirty_with_two_committed(
        mysql_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {
        "000001_first.up.sql": "CREATE TABLE first_t (id int);\n",
        "000002_broken.up.sql": FAILS_AT_THIRD,
    })
    args = ("-path", str(folder), "-database", mysql_url)
    result = run_cli(*args, "up")
    assert result.exit_code == 1
    # The error names the file, the failing line and column, and the database's message.
    assert "failed at " in result.stderr and "000002_broken.up.sql:4:1" in result.stderr
    assert "statement 3 of 4" in result.stderr
    assert "ERROR 1136" in result.stderr
    assert "statements 1-2 of 4 (lines 2-3) were committed" in result.stderr
    assert "safemigrate force 1" in result.stderr and "safemigrate force 2" in result.stderr
    # No transactional DDL: what committed stays, and the version is dirty (as golang-migrate).
    assert fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") == [(2, 1)]
    assert fetch(mysql_url, "SELECT id FROM a") == [(1,)]
    assert not fetch(mysql_url, "SHOW TABLES LIKE 'c'")
    history = fetch(mysql_url, "SELECT version, outcome, statements_total, statements_committed, error "
                               "FROM safemigrate_history ORDER BY id")
    assert [h[:4] for h in history] == [(1, "applied", 1, 1), (2, "failed", 4, 2)]
    assert "1136" in history[1][4] and "line 4" in history[1][4]
    # Every move is refused until it is forced, with golang-migrate's message.
    dirty = run_cli(*args, "up")
    assert dirty.exit_code == 1
    assert "Dirty database version 2. Fix and force version." in dirty.stderr
    assert "stopped after 2 of 4 statements" in dirty.stderr
    # Finish it by hand, force, and carry on.
    fetch(mysql_url, "CREATE TABLE c (id int)")
    assert run_cli(*args, "force", "2").exit_code == 0
    assert run_cli(*args, "version").stdout == "2\n"


def test_a_syntax_error_is_located_at_its_word(mysql_url: str, tmp_path: Path) -> None:
    m = Migrator(load_source(write_migrations(tmp_path / "m", {
        "1_t.up.sql": "CREATE TABLE t (id int);\n\nCREATE TABLE u (\n  id int,\n  name varchar(10) NOT NUL\n);\n",
    })), open_driver(mysql_url), lock_timeout=5)
    with m, pytest.raises(MigrationFailedError) as caught:
        m.up()
    details = caught.value.details
    assert (details["line"], details["column"]) == (5, 24)  # the "NUL" the server complains about
    assert details["database_error"]["code"] == "1064"
    assert details["statements_committed"] == 1
    assert "5 |   name varchar(10) NOT NUL" in "\n".join(caught.value.report_lines)


def test_a_use_statement_in_a_migration_does_not_move_the_bookkeeping(
        mysql_url: str, tmp_path: Path) -> None:
    other = mysql_url.rsplit("/", 1)[1] + "_other"
    fetch(mysql_url, f"CREATE DATABASE `{other}`")
    try:
        folder = write_migrations(tmp_path / "m", {
            "1_elsewhere.up.sql": f"USE `{other}`;\nCREATE TABLE elsewhere (id int);\n",
            "2_more.up.sql": "CREATE TABLE more_t (id int);\n",
        })
        result = run_cli("-path", str(folder), "-database", mysql_url, "up")
        assert result.exit_code == 0, result.output
        assert fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") == [(2, 0)]
        assert len(fetch(mysql_url, "SELECT * FROM safemigrate_history")) == 2
        assert fetch(mysql_url, f"SHOW TABLES FROM `{other}`") == [("elsewhere",), ("more_t",)]
    finally:
        fetch(mysql_url, f"DROP DATABASE IF EXISTS `{other}`")


def test_a_mysqldump_style_file_applies(mysql_url: str, tmp_path: Path) -> None:
    dump = """\
/*!40101 SET @OLD_CHARACTER_SET_CLIENT=@@CHARACTER_SET_CLIENT */;
/*!40101 SET NAMES utf8mb4 */;
/*!40014 SET @OLD_FOREIGN_KEY_CHECKS=@@FOREIGN_KEY_CHECKS, FOREIGN_KEY_CHECKS=0 */;
CREATE TABLE `t` (
  `id` int(11) NOT NULL,
  `note` varchar(20) DEFAULT 'a;b',
  PRIMARY KEY (`id`)
) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4;
INSERT INTO `t` VALUES (1,'x\\';y'),(2,"z"";");
/*!50003 SET @saved_sql_mode = @@sql_mode */ ;
DELIMITER ;;
/*!50003 CREATE*/ /*!50017 DEFINER=CURRENT_USER*/ /*!50003 TRIGGER t_bi BEFORE INSERT ON t FOR EACH ROW
BEGIN
  SET NEW.note = CONCAT(NEW.note, ';');
END */;;
DELIMITER ;
/*!50003 SET sql_mode = @saved_sql_mode */ ;
/*!40014 SET FOREIGN_KEY_CHECKS=@OLD_FOREIGN_KEY_CHECKS */;
INSERT INTO t (id, note) VALUES (3, 'w');
"""
    folder = write_migrations(tmp_path / "m", {"1_dump.up.sql": dump})
    result = run_cli("-path", str(folder), "-database", mysql_url, "up")
    assert result.exit_code == 0, result.output
    assert fetch(mysql_url, "SELECT id, note FROM t ORDER BY id") == [(1, "x';y"), (2, 'z";'), (3, "w;")]


def test_two_processes_running_up_at_once_apply_each_migration_exactly_once(
        mysql_url: str, tmp_path: Path) -> None:
    files = {"000001_log.up.sql": "CREATE TABLE run_log (version int, conn int);\n"}
    for version in range(2, 7):
        files[f"{version:06d}_step.up.sql"] = (
            f"INSERT INTO run_log VALUES ({version}, CONNECTION_ID());\nDO SLEEP(0.5);\n")
    folder = write_migrations(tmp_path / "m", files)
    command = [sys.executable, "-m", "safemigrate", "-path", str(folder), "-database", mysql_url,
               "-lock-timeout", "60", "up"]
    processes = [subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
                 for _ in range(2)]
    outputs = [p.communicate(timeout=120) for p in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert process.returncode == 0, out + err
        assert_no_secret(out, err)
    assert sorted(v for v, _ in fetch(mysql_url, "SELECT version, conn FROM run_log")) == [2, 3, 4, 5, 6]
    history = fetch(mysql_url, "SELECT version FROM safemigrate_history WHERE outcome = 'applied'")
    assert sorted(v for (v,) in history) == [1, 2, 3, 4, 5, 6]
    assert fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") == [(6, 0)]
    # One process applied everything (it held the lock), the other found nothing left to do.
    assert sorted(out.count("/u ") for out, _ in outputs) == [0, 6]


def test_a_golang_migrate_run_holding_the_lock_is_waited_for_then_named(
        mysql_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "CREATE TABLE a (id int);\n"})
    d = open_driver(mysql_url)
    assert isinstance(d, MysqlDriver)
    d.connect()
    name = d.lock_name
    d.close()
    other = pymysql.connect(**MysqlDriver.connect_kwargs(parse_database_url(mysql_url)), autocommit=True)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 10)", (name,))  # exactly golang-migrate's Lock()
            cursor.execute("SELECT CONNECTION_ID()")
            (holder,) = cursor.fetchone()
        result = run_cli("-path", str(folder), "-database", mysql_url, "-lock-timeout", "1", "up")
        assert result.exit_code == 1
        assert "can't acquire database lock after 1s" in result.stderr
        assert f"held by pid {holder}" in result.stderr and f"KILL {holder}" in result.stderr
        assert not fetch(mysql_url, "SHOW TABLES LIKE 'a'")
    finally:
        other.close()
    assert run_cli("-path", str(folder), "-database", mysql_url, "up").exit_code == 0


def test_connection_failures_name_the_url_without_its_password(mysql_url: str, tmp_path: Path) -> None:
    folder = write_migrations(tmp_path / "m", {"1_a.up.sql": "SELECT 1;\n"})
    host_db = mysql_url.split("@", 1)[1]
    for url in (f"mysql://root:Canary-Pa55w0rd-7f3a@tcp({host_db.split('/')[0]})/{host_db.split('/')[1]}",
                f"mariadb://root:Canary-Pa55w0rd-7f3a@{host_db}"):
        result = run_cli("-path", str(folder), "-database", url, "up")  # run_cli checks for the canary
        assert result.exit_code == 1
        assert "Access denied" in result.stderr and "root:xxxxx@" in result.stderr


@pytest.mark.parametrize("table", ["%0D", "trailing%20", "a" * 70, "x%60%3B%20DROP%20TABLE%20t%3B%20--%20"])
@pytest.mark.parametrize("command", ["version", "status", "up"])
def test_a_table_name_the_server_refuses_is_a_usage_error_that_changes_nothing(
        mysql_url: str, tmp_path: Path, table: str, command: str) -> None:
    from support import run_cli

    folder = tmp_path / "m"
    folder.mkdir()
    (folder / "1_t.up.sql").write_text("CREATE TABLE t (id int);\n")
    sep = "&" if "?" in mysql_url else "?"
    result = run_cli("-path", str(folder), "-database", f"{mysql_url}{sep}x-migrations-table={table}", command)
    assert result.exit_code == 2, result.output
    assert "the server refuses the name of safemigrate's tables" in result.stderr
    assert "internal error" not in result.stderr
    driver = open_driver(mysql_url)
    driver.connect()
    try:
        assert driver.query("SHOW TABLES") == []
    finally:
        driver.close()
