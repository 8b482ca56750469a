"""MySQL URLs: golang-migrate's DSN form and the ordinary form, parameters, redaction. No server needed."""

from __future__ import annotations

import ssl
from pathlib import Path

import pytest

from safemigrate.drivers import open_driver
from safemigrate.drivers.mysql import MysqlDriver, lock_name, parse_mysql_url
from safemigrate.drivers.postgres import advisory_lock_id
from safemigrate.errors import UsageError
from safemigrate.urls import parse_database_url
from support import CANARY_PASSWORD, assert_no_secret

P = CANARY_PASSWORD


def kwargs_of(url: str) -> dict[str, object]:
    return MysqlDriver.connect_kwargs(parse_database_url(url))


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        (f"mysql://root:{P}@tcp(db.example:3307)/app",
         {"user": "root", "password": P, "host": "db.example", "port": 3307, "database": "app"}),
        ("mysql://root@tcp(127.0.0.1)/app",
         {"user": "root", "password": "", "host": "127.0.0.1", "port": 3306, "database": "app"}),
        ("mysql://tcp(127.0.0.1:3306)/myDB?multiStatements=true",
         {"user": "", "host": "127.0.0.1", "port": 3306, "database": "myDB"}),
        (f"mysql://u:{P}@tcp([::1]:3310)/app", {"host": "::1", "port": 3310}),
        (f"mysql://u:{P}@unix(/run/mysqld/mysqld.sock)/app",
         {"unix_socket": "/run/mysqld/mysqld.sock", "database": "app"}),
        # golang-migrate query-unescapes user and password in its form ...
        ("mysql://username%40:pass%3Aword%40@tcp(127.0.0.1:3306)/myDB",
         {"user": "username@", "password": "pass:word@"}),
        ("mysql://user:pass@word@tcp(127.0.0.1:3306)/myDB", {"user": "user", "password": "pass@word"}),
        ("mysql://us+er:pa+ss@tcp(h:1)/d", {"user": "us er", "password": "pa ss"}),
        # ... and the ordinary form reads like any URL.
        (f"mysql://root:{P}@db.example:3307/app",
         {"user": "root", "password": P, "host": "db.example", "port": 3307, "database": "app"}),
        ("mariadb://maria@localhost/app", {"user": "maria", "host": "localhost", "port": 3306}),
        ("mysql://u:p%2Fq%40r@h/d%2Dx", {"password": "p/q@r", "database": "d-x"}),
        ("mysql://u:a+b@h/d", {"password": "a+b"}),
        ("mysql://u@[::1]:3399/d", {"host": "::1", "port": 3399}),
    ],
)
def test_url_forms(url: str, expected: dict[str, object]) -> None:
    kwargs = kwargs_of(url)
    for key, value in expected.items():
        assert kwargs[key] == value, key
    assert kwargs["program_name"] == "safemigrate"
    assert "autocommit" not in kwargs


def test_x_parameters_are_read_and_stripped() -> None:
    url = parse_database_url(
        f"mysql://u:{P}@tcp(h:1)/d?x-migrations-table=my_versions&x-no-lock=true"
        "&x-statement-timeout=1500&x-try-lock-timeout=3&x-unknown=1&charset=utf8mb4,utf8"
    )
    driver = MysqlDriver(url)
    assert driver.version_table.name == "my_versions"
    assert driver.no_lock is True
    assert driver.statement_timeout_ms == 1500
    assert driver.try_lock_timeout == 3.0
    kwargs = MysqlDriver.connect_kwargs(url)
    assert kwargs["charset"] == "utf8mb4"
    assert "init_command" not in kwargs  # no x- parameter ever reaches the server
    assert driver.transactional_ddl is False


def test_go_sql_driver_parameters() -> None:
    kwargs = kwargs_of(
        "mysql://u@tcp(h:1)/d?timeout=1m30s&readTimeout=500ms&writeTimeout=2s&collation=utf8mb4_bin"
        "&allowAllFiles=true&maxAllowedPacket=1024&parseTime=true&loc=Local&interpolateParams=true"
        "&sql_mode=%27ANSI_QUOTES%27&time_zone=%27%2B00:00%27"
    )
    assert kwargs["connect_timeout"] == 90.0
    assert kwargs["read_timeout"] == 0.5
    assert kwargs["write_timeout"] == 2.0
    assert kwargs["collation"] == "utf8mb4_bin"
    assert kwargs["local_infile"] is True
    assert kwargs["max_allowed_packet"] == 1024
    # Parameters go-sql-driver does not know become session variables, as there.
    assert kwargs["init_command"] == "SET sql_mode='ANSI_QUOTES', time_zone='+00:00'"


@pytest.mark.parametrize(
    "url",
    [
        f"mysql://u:{P}@tcp(h:1)/d?timeout=soon",
        f"mysql://u:{P}@tcp(h:1)/d?x-no-lock=maybe",
        f"mysql://u:{P}@tcp(h:1)/d?x-statement-timeout=1.5s",
        f"mysql://u:{P}@tcp(h:1)/d?x-try-lock-timeout=never",
        f"mysql://u:{P}@tcp(h:99999)/d",
        f"mysql://u:{P}@pipe(h)/d",
        f"mysql://u:{P}@h:70000/d",
        f"mysql://u:{P}@h:1/d/e",
        f"mysql://u:{P}@tcp(h:1)/d?bad-name=1",
        f"mysql://u:{P}@tcp(h:1)/d?tls=custom&x-tls-cert=/c.pem",
        f"mysql://u:{P}@tcp(h:1)/d?tls=custom&x-tls-ca=/nonexistent/ca.pem",
    ],
)
def test_bad_urls_are_usage_errors_without_the_password(url: str) -> None:
    with pytest.raises(UsageError) as caught:
        MysqlDriver(parse_database_url(url))
    error = caught.value
    assert_no_secret(error.message, error.hint or "", str(error.details))


def test_tls_modes(tmp_path: Path) -> None:
    assert kwargs_of("mysql://u@tcp(h:1)/d?tls=false")["ssl_disabled"] is True
    verified = kwargs_of("mysql://u@tcp(h:1)/d?tls=true")["ssl"]
    assert isinstance(verified, ssl.SSLContext) and verified.verify_mode == ssl.CERT_REQUIRED
    assert verified.check_hostname
    skip = kwargs_of("mysql://u@tcp(h:1)/d?tls=skip-verify")["ssl"]
    assert isinstance(skip, ssl.SSLContext) and skip.verify_mode == ssl.CERT_NONE
    preferred = kwargs_of("mysql://u@tcp(h:1)/d?tls=preferred")
    assert "ssl" not in preferred and "ssl_disabled" not in preferred
    ca = Path(ssl.get_default_verify_paths().cafile or "")
    if not ca.is_file():
        pytest.skip("no CA bundle on this machine to stand in for x-tls-ca")
    custom = kwargs_of(f"mysql://u@tcp(h:1)/d?tls=custom&x-tls-ca={ca}&x-tls-insecure-skip-verify=true")
    context = custom["ssl"]
    assert isinstance(context, ssl.SSLContext) and context.verify_mode == ssl.CERT_NONE


def test_open_driver_picks_mysql_for_both_schemes() -> None:
    assert isinstance(open_driver(f"mysql://u:{P}@tcp(h:1)/d"), MysqlDriver)
    assert isinstance(open_driver(f"mariadb://u:{P}@h:1/d"), MysqlDriver)


def test_repr_and_target_never_show_the_password() -> None:
    url = parse_database_url(f"mysql://u:{P}@tcp(h:1)/d")
    target = parse_mysql_url(url)
    assert_no_secret(repr(target), repr(url), str(url))


def test_lock_name_is_golang_migrates_advisory_lock_id_of_dbname_and_table() -> None:
    # golang-migrate: GenerateAdvisoryLockId(fmt.Sprintf("%s:%s", DatabaseName, MigrationsTable)),
    # CRC-32 IEEE times 1486364155 modulo 2^32, printed in decimal.
    assert advisory_lock_id("database_name") == 1764327054  # golang-migrate's own test vector
    assert lock_name("app", "schema_migrations") == str(advisory_lock_id("app:schema_migrations"))
    import zlib

    expected = (zlib.crc32(b"app:schema_migrations") * 1486364155) % 2**32
    assert lock_name("app", "schema_migrations") == str(expected)
    driver = MysqlDriver(parse_database_url("mysql://u@tcp(h:1)/app?x-migrations-table=v"))
    assert driver.lock_name == str(advisory_lock_id("app:v"))
