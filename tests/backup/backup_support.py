"""Helpers shared by the backup tests (a uniquely named module: importable from any test folder)."""

from __future__ import annotations

import socket
import stat
from dataclasses import dataclass
from pathlib import Path


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def admin_execute(url: str, *statements: str) -> list[tuple[object, ...]]:
    import psycopg

    rows: list[tuple[object, ...]] = []
    with psycopg.connect(url, autocommit=True) as conn:
        for sql in statements:
            cur = conn.execute(sql)
            if cur.description is not None:
                rows = list(cur.fetchall())
    return rows


def pg_databases(admin_url: str, like: str) -> list[str]:
    return [str(r[0]) for r in admin_execute(
        admin_url, f"SELECT datname FROM pg_database WHERE datname LIKE '{like}' ORDER BY 1")]


def _mysql_connect(url: str) -> object:
    from urllib.parse import unquote, urlsplit

    import pymysql

    parts = urlsplit(url)
    return pymysql.connect(host=parts.hostname or "127.0.0.1", port=parts.port or 3306,
                           user=unquote(parts.username or "root"),
                           password=unquote(parts.password or ""), autocommit=True)


def mysql_rows(url: str, sql: str) -> list[tuple[object, ...]]:
    from urllib.parse import urlsplit

    conn = _mysql_connect(url)
    try:
        with conn.cursor() as cur:  # type: ignore[attr-defined]
            db = urlsplit(url).path.lstrip("/")
            cur.execute(f"USE `{db}`")
            cur.execute(sql)
            return list(cur.fetchall())
    finally:
        conn.close()  # type: ignore[attr-defined]


# -- S3 -------------------------------------------------------------------------------------
@dataclass
class S3Endpoint:
    url: str
    port: int
    server: object

    def restart(self) -> None:
        from moto.server import ThreadedMotoServer

        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=self.port, verbose=False)
        self.server.start()  # type: ignore[attr-defined]


def s3_client(endpoint: S3Endpoint) -> object:
    import boto3

    return boto3.client("s3", endpoint_url=endpoint.url, region_name="us-east-1")


# -- wrappers around real tools ---------------------------------------------------------------
def write_script(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    path.chmod(path.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return path
