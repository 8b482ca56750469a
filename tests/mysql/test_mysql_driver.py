"""The MySQL/MariaDB driver against a real server: golang-migrate's conformance steps, the lock
shared with golang-migrate, lock timeouts naming the holder, cancel, errors, DELIMITER files."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import Any

import pymysql
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from mysql_strategies import procedure_bodies

from safemigrate.drivers import open_driver
from safemigrate.drivers.base import TableName, VersionState
from safemigrate.drivers.mysql import MysqlDriver, StatementTimeout
from safemigrate.drivers.postgres import advisory_lock_id
from safemigrate.errors import DatabaseError, LockTimeoutError
from safemigrate.sql.mysql import split_mysql
from safemigrate.urls import parse_database_url
from support import CANARY_PASSWORD, assert_no_secret, with_password

pytestmark = pytest.mark.mysql


def raw_connection(url: str) -> Any:
    """A plain PyMySQL connection, standing in for another client (golang-migrate, a person)."""
    return pymysql.connect(**MysqlDriver.connect_kwargs(parse_database_url(url)), autocommit=True)


def fetch(url: str, sql: str) -> list[tuple[Any, ...]]:
    conn = raw_connection(url)
    try:
        with conn.cursor() as cursor:
            cursor.execute(sql)
            return [tuple(r) for r in cursor.fetchall()]
    finally:
        conn.close()


@pytest.fixture
def driver(mysql_url: str) -> Iterator[MysqlDriver]:
    d = open_driver(mysql_url)
    assert isinstance(d, MysqlDriver)
    d.connect()
    for sql, params in d.create_version_table_sql():
        d.execute(sql, params)
    yield d
    d.close()


def apply_set_version(d: MysqlDriver, version: int | None, dirty: bool) -> None:
    d.execute("BEGIN")
    for sql, params in d.set_version_sql(version, dirty):
        d.execute(sql, params)
    d.execute("COMMIT")


# -- golang-migrate's driver conformance steps (database/testing/testing.go) ------------------------


def test_nil_version_on_a_new_database(driver: MysqlDriver) -> None:
    assert driver.read_version() == VersionState(None, False)


def test_nil_version_when_the_table_does_not_exist(mysql_url: str) -> None:
    d = open_driver(mysql_url)
    d.connect()
    try:
        assert not d.version_table_exists()
        assert d.read_version() == VersionState(None, False)
    finally:
        d.close()


def test_lock_and_unlock(driver: MysqlDriver) -> None:
    driver.lock(5)
    with pytest.raises(DatabaseError, match="locked"):
        driver.lock(5)  # GET_LOCK is re-entrant in MySQL; the driver refuses, as golang-migrate does
    driver.unlock()
    driver.lock(5)
    driver.unlock()
    driver.unlock()  # unlocking twice is harmless


def test_run(driver: MysqlDriver, mysql_url: str) -> None:
    driver.execute("CREATE TABLE conformance_t (id INTEGER)")
    driver.execute("SELECT 1")
    assert fetch(mysql_url, "SHOW TABLES LIKE 'conformance_t'") == [("conformance_t",)]


@pytest.mark.parametrize("use_transaction", [True, False])
def test_set_version(driver: MysqlDriver, mysql_url: str, use_transaction: bool) -> None:
    cases = [
        ("set 1 dirty", 1, True, VersionState(1, True)),
        ("re-set 1 dirty", 1, True, VersionState(1, True)),
        ("set 2 clean", 2, False, VersionState(2, False)),
        ("re-set 2 clean", 2, False, VersionState(2, False)),
        ("last migration dirty", None, True, VersionState(None, True)),
        ("last migration clean", None, False, VersionState(None, False)),
    ]
    for name, version, dirty, expected in cases:
        if use_transaction:
            apply_set_version(driver, version, dirty)
        else:
            for sql, params in driver.set_version_sql(version, dirty):
                driver.execute(sql, params)
        assert driver.read_version() == expected, name
        assert len(fetch(mysql_url, "SELECT * FROM schema_migrations")) <= 1, name


def test_version_table_is_golang_migrates(driver: MysqlDriver, mysql_url: str) -> None:
    columns = fetch(
        mysql_url,
        "SELECT COLUMN_NAME, COLUMN_TYPE, IS_NULLABLE, COLUMN_KEY FROM information_schema.COLUMNS "
        "WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = 'schema_migrations' ORDER BY ORDINAL_POSITION",
    )
    assert columns == [("version", "bigint(20)", "NO", "PRI"), ("dirty", "tinyint(1)", "NO", "")]
    apply_set_version(driver, None, True)
    # A dirty nil version is stored as -1, as golang-migrate does (its issue 330).
    assert fetch(mysql_url, "SELECT version, dirty FROM schema_migrations") == [(-1, 1)]
    queries = driver.set_version_sql(7, False)
    db = f"`{driver.database_name}`"
    assert [q for q, _ in queries] == [
        f"DELETE FROM {db}.`schema_migrations` LIMIT 1",
        f"INSERT INTO {db}.`schema_migrations` (version, dirty) VALUES (%s, %s)",
    ]


def test_reads_a_version_table_golang_migrate_wrote(mysql_url: str) -> None:
    conn = raw_connection(mysql_url)
    with conn.cursor() as cursor:
        cursor.execute("CREATE TABLE `schema_migrations` (version bigint not null primary key, "
                       "dirty boolean not null)")
        cursor.execute("INSERT INTO `schema_migrations` (version, dirty) VALUES (20240101, 1)")
    conn.close()
    d = open_driver(mysql_url)
    d.connect()
    try:
        assert d.read_version() == VersionState(20240101, True)
    finally:
        d.close()


def test_drop(driver: MysqlDriver, mysql_url: str) -> None:
    driver.execute("CREATE TABLE parent (id int PRIMARY KEY)")
    driver.execute("CREATE TABLE child (id int, parent_id int, FOREIGN KEY (parent_id) REFERENCES parent (id))")
    driver.execute("CREATE VIEW child_view AS SELECT * FROM child")
    dropped = driver.drop_all_tables()
    assert {"parent", "child", "child_view", "schema_migrations"} == set(dropped)
    assert fetch(mysql_url, "SHOW FULL TABLES") == []
    assert driver.query("SELECT @@SESSION.foreign_key_checks") == [(1,)]
    assert driver.drop_all_tables() == []


def test_x_migrations_table(mysql_url: str) -> None:
    d = open_driver(mysql_url + "?x-migrations-table=my_versions")
    d.connect()
    try:
        for sql, params in d.create_version_table_sql():
            d.execute(sql, params)
        apply_set_version(d, 3, False)  # type: ignore[arg-type]
        assert fetch(mysql_url, "SELECT version, dirty FROM my_versions") == [(3, 0)]
        assert d.table_exists(TableName("my_versions"))
        assert not d.table_exists(TableName("schema_migrations"))
    finally:
        d.close()


# -- the lock, shared with golang-migrate ---------------------------------------------------------


def test_lock_uses_golang_migrates_get_lock_name(driver: MysqlDriver, mysql_url: str) -> None:
    dbname = mysql_url.rsplit("/", 1)[1]
    expected = str(advisory_lock_id(f"{dbname}:schema_migrations"))
    assert driver.lock_name == expected
    driver.lock(5)
    try:
        assert fetch(mysql_url, f"SELECT IS_USED_LOCK('{expected}')") == [(driver.connection_id,)]
    finally:
        driver.unlock()
    assert fetch(mysql_url, f"SELECT IS_USED_LOCK('{expected}')") == [(None,)]


def test_a_golang_migrate_run_holding_the_lock_blocks_us_and_is_named(driver: MysqlDriver,
                                                                       mysql_url: str) -> None:
    # golang-migrate's Lock() is exactly: SELECT GET_LOCK(<lock id>, 10) on its connection.
    other = raw_connection(mysql_url)
    try:
        with other.cursor() as cursor:
            cursor.execute("SELECT GET_LOCK(%s, 10)", (driver.lock_name,))
            assert cursor.fetchall() == ((1,),)
            cursor.execute("SELECT CONNECTION_ID()")
            holder_id = cursor.fetchall()[0][0]
        started = time.monotonic()
        with pytest.raises(LockTimeoutError) as caught:
            driver.lock(0.6)
        elapsed = time.monotonic() - started
        assert 0.5 <= elapsed < 5
        error = caught.value
        assert f"held by pid {holder_id}" in error.message
        assert "user root" in error.message and "since " in error.message
        assert "SELECT GET_LOCK" in error.message or "Sleep" in error.message
        assert f"KILL {holder_id}" in (error.hint or "")
        assert error.details["holder"]["pid"] == holder_id
    finally:
        other.close()
    # The session ended, so its lock is gone and we can take it.
    driver.lock(5)
    driver.unlock()


def test_two_drivers_exclude_each_other_and_zero_timeout_does_not_wait(mysql_url: str) -> None:
    first, second = open_driver(mysql_url), open_driver(mysql_url)
    first.connect()
    second.connect()
    try:
        first.lock(5)
        started = time.monotonic()
        with pytest.raises(LockTimeoutError, match="held by pid"):
            second.lock(0)
        assert time.monotonic() - started < 1
        first.unlock()
        second.lock(0)
        second.unlock()
    finally:
        first.close()
        second.close()


def test_the_lock_waits_for_its_holder_to_finish(mysql_url: str) -> None:
    first, second = open_driver(mysql_url), open_driver(mysql_url)
    first.connect()
    second.connect()
    try:
        first.lock(5)
        threading.Timer(0.5, first.unlock).start()
        started = time.monotonic()
        second.lock(10)
        assert 0.3 < time.monotonic() - started < 5
        second.unlock()
    finally:
        first.close()
        second.close()


def test_x_try_lock_timeout_caps_the_wait_and_x_no_lock_takes_no_lock(mysql_url: str) -> None:
    holder = open_driver(mysql_url)
    capped = open_driver(mysql_url + "?x-try-lock-timeout=0.3")
    unlocked = open_driver(mysql_url + "?x-no-lock=true")
    for d in (holder, capped, unlocked):
        d.connect()
    try:
        holder.lock(5)
        started = time.monotonic()
        with pytest.raises(LockTimeoutError):
            capped.lock(30)
        assert time.monotonic() - started < 3
        unlocked.lock(1)  # golang-migrate's TestNoLockWorks: no lock taken, so no wait
        unlocked.unlock()
    finally:
        for d in (holder, capped, unlocked):
            d.close()


def test_cancel_interrupts_a_lock_wait_and_a_running_statement(mysql_url: str) -> None:
    holder, waiter = open_driver(mysql_url), open_driver(mysql_url)
    holder.connect()
    waiter.connect()
    try:
        holder.lock(5)
        threading.Timer(0.4, waiter.cancel).start()
        started = time.monotonic()
        with pytest.raises(DatabaseError, match="interrupted"):
            waiter.lock(30)
        assert time.monotonic() - started < 5
        threading.Timer(0.4, waiter.cancel).start()
        started = time.monotonic()
        with pytest.raises(pymysql.err.MySQLError) as caught:
            waiter.execute("SELECT SLEEP(30)")
        assert time.monotonic() - started < 5
        info = waiter.describe_error(caught.value)
        assert info is not None and info.code == "1317"
        assert waiter.query("SELECT 1") == [(1,)]  # the connection survives KILL QUERY
    finally:
        holder.close()
        waiter.close()


def test_statement_timeout_kills_the_statement(mysql_url: str) -> None:
    d = open_driver(mysql_url + "?x-statement-timeout=300")
    d.connect()
    try:
        started = time.monotonic()
        with pytest.raises(StatementTimeout) as caught:
            d.execute("SELECT SLEEP(5) FROM (SELECT 1 UNION SELECT 2) t")
        assert time.monotonic() - started < 3
        info = d.describe_error(caught.value)
        assert info is not None and "statement timeout" in info.message and "300 ms" in info.message
        d.execute("SELECT SLEEP(0.1)")  # a fast statement is not killed later by a stale timer
        assert d.query("SELECT 2") == [(2,)]
    finally:
        d.close()


# -- running files statement by statement ----------------------------------------------------------


def run_file(d: MysqlDriver, text: str) -> None:
    script = split_mysql(text)
    assert script.parsed, script.problem
    for statement in script.statements:
        d.execute(statement.text)


def test_a_procedure_under_delimiter_runs_statement_by_statement(driver: MysqlDriver) -> None:
    run_file(driver, """\
CREATE TABLE counters (id int PRIMARY KEY, n int NOT NULL);

DELIMITER //
CREATE PROCEDURE bump(IN k int)
BEGIN
  INSERT INTO counters VALUES (k, 1) ON DUPLICATE KEY UPDATE n = n + 1;
  -- a ; in a comment, and one in a string: ';'
  UPDATE counters SET n = n WHERE id = k;
END //
CREATE TRIGGER counters_check BEFORE UPDATE ON counters FOR EACH ROW
BEGIN
  IF NEW.n > 100 THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'too many; stop'; END IF;
END //
DELIMITER ;

CALL bump(1);
CALL bump(1);
""")
    assert driver.query("SELECT id, n FROM counters") == [(1, 2)]


def test_stored_programs_without_delimiter_run_as_golang_migrate_users_write_them(
        driver: MysqlDriver) -> None:
    run_file(driver, """\
CREATE TABLE log (msg varchar(50));
CREATE FUNCTION twice(x int) RETURNS int DETERMINISTIC
BEGIN
  DECLARE r int DEFAULT 0;
  SET r = x * 2;
  RETURN CASE WHEN r > 10 THEN 10 ELSE r END;
END;
CREATE PROCEDURE fill(n int)
BEGIN
  DECLARE i int DEFAULT 0;
  lbl: LOOP
    IF i >= n THEN LEAVE lbl; END IF;
    INSERT INTO log VALUES (CONCAT('row;', IF(i > 0, twice(i), 'zero')));
    SET i = i + 1;
  END LOOP lbl;
END;
CALL fill(3);
/*!40101 SET @a = 1 */;
/*!99999 SET @a = 2 */;
BEGIN NOT ATOMIC DECLARE x int DEFAULT 5; INSERT INTO log VALUES (x); END;
""")
    assert driver.query("SELECT msg FROM log") == [("row;zero",), ("row;2",), ("row;4",), ("5",)]
    assert driver.query("SELECT @a") == [(1,)]


@given(body=procedure_bodies())
@settings(max_examples=30, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_property_generated_procedures_split_as_the_server_parses_them(
        driver: MysqlDriver, body: str) -> None:
    """The server accepts each generated procedure as one statement, split without DELIMITER."""
    run_file(driver, f"DROP PROCEDURE IF EXISTS gen;\nCREATE PROCEDURE gen()\nBEGIN\n{body}\nEND;\nCALL gen();")


@given(value=st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"), max_size=20),
       quote=st.sampled_from(["'", '"']), doubled=st.booleans())
@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
def test_property_strings_tokenize_as_the_server_reads_them(
        driver: MysqlDriver, value: str, quote: str, doubled: bool) -> None:
    """A string the splitter keeps whole is the string the server reads (escapes included)."""
    escaped = value.replace("\\", "\\\\").replace(quote, quote * 2 if doubled else "\\" + quote)
    literal = quote + escaped + quote
    script = split_mysql(f"SELECT {literal} AS v; SELECT 'next';")
    assert [s.text for s in script.statements] == [f"SELECT {literal} AS v", "SELECT 'next'"]
    assert driver.query(script.statements[0].text) == [(value,)]


# -- errors ----------------------------------------------------------------------------------------


def test_describe_error_gives_code_message_and_syntax_error_position(driver: MysqlDriver) -> None:
    sql = "CREATE TABLE t (\n  id int,\n  name varchar(10) NOT NUL\n)"
    with pytest.raises(pymysql.err.MySQLError) as caught:
        driver.execute(sql)
    info = driver.describe_error(caught.value)
    assert info is not None and info.code == "1064"
    assert info.extra.get("sqlstate") == "42000"
    assert info.position is not None
    assert sql[info.position - 1 :].startswith("NUL\n")
    with pytest.raises(pymysql.err.MySQLError) as missing:
        driver.execute("INSERT INTO nope VALUES (1)")
    info = driver.describe_error(missing.value)
    assert info is not None and info.code == "1146" and "nope" in info.message and info.position is None
    assert driver.describe_error(ValueError("x")) is None


def test_in_transaction_follows_the_server(driver: MysqlDriver) -> None:
    assert not driver.in_transaction()
    driver.execute("BEGIN")
    assert driver.in_transaction()
    driver.execute("CREATE TABLE t (id int)")  # DDL commits implicitly
    assert not driver.in_transaction()
    driver.execute("START TRANSACTION")
    driver.execute("INSERT INTO t VALUES (1)")
    driver.execute("ROLLBACK")
    assert not driver.in_transaction()
    assert driver.query("SELECT COUNT(*) FROM t") == [(0,)]


def test_connection_facts(driver: MysqlDriver, mysql_url: str) -> None:
    assert driver.database_name == mysql_url.rsplit("/", 1)[1]
    assert driver.current_user and driver.current_user.startswith("root@")
    assert driver.server_version
    assert driver.quote_ident("a`b") == "`a``b`"
    assert driver.literal("it's a \\ test") == "'it''s a \\\\ test'"
    assert driver.literal(True) == "TRUE" and driver.literal(None) == "NULL"
    assert driver.query(f"SELECT {driver.literal(chr(92) + chr(39))}") == [("\\'",)]


def test_session_variables_from_url_parameters(mysql_url: str) -> None:
    d = open_driver(mysql_url + "?sql_mode=%27ANSI_QUOTES%27&parseTime=true")
    d.connect()
    try:
        assert d.query("SELECT @@SESSION.sql_mode") == [("ANSI_QUOTES",)]
    finally:
        d.close()


def test_golang_migrate_form_url_connects(mysql_url: str) -> None:
    hostport_db = mysql_url.split("@", 1)[1]  # 127.0.0.1:3306/dbname
    hostport, dbname = hostport_db.split("/", 1)
    user = mysql_url.split("://", 1)[1].split("@", 1)[0]
    d = open_driver(f"mysql://{user}@tcp({hostport})/{dbname}?multiStatements=true")
    d.connect()
    try:
        assert d.database_name == dbname
        assert d.query("SELECT DATABASE()") == [(dbname,)]
    finally:
        d.close()


@pytest.mark.parametrize(
    ("mutate", "words", "hint"),
    [
        (lambda u: with_password(u), "Access denied", "password"),
        (lambda u: u.rsplit("/", 1)[0] + "/sm_missing_db", "Unknown database", "CREATE DATABASE"),
        (lambda u: with_password(u).replace(":3306", ":1"), "cannot connect", "server is running"),
        (lambda u: u + "?no_such_variable=1", "Unknown system variable", "session variable"),
        (lambda u: u + "?tls=true", "cannot connect", "tls"),
    ],
)
def test_connection_errors_are_clear_and_never_show_the_password(
        mysql_url: str, mutate: Any, words: str, hint: str) -> None:
    url = mutate(mysql_url)
    d = open_driver(url)
    with pytest.raises(DatabaseError) as caught:
        d.connect()
    error = caught.value
    assert words in error.message
    assert hint in (error.hint or "")
    assert_no_secret(error.message, error.hint or "", str(error.details))
    if CANARY_PASSWORD in url:
        assert "xxxxx" in error.message
