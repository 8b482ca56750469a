"""No password ever reaches output: URLs, malformed URLs and key=value secrets."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from safemigrate.redact import redact_text, redact_url
from safemigrate.urls import parse_database_url


@pytest.mark.parametrize(("url", "expected"), [
    ("postgres://u:secret@h:5432/db", "postgres://u:xxxxx@h:5432/db"),
    ("postgres://u:p@ss/w@rd@h/db", "postgres://u:xxxxx@h/db"),  # unencoded @ and / in the password
    ("mysql://u:secret@tcp(h:3306)/db?x=1", "mysql://u:xxxxx@tcp(h:3306)/db?x=1"),
    ("postgres://u@h/db?password=secret&sslmode=disable", "postgres://u@h/db?password=xxxxx&sslmode=disable"),
    ("postgres://h/db", "postgres://h/db"),
    ("sqlite3://./app.db", "sqlite3://./app.db"),
])
def test_redact_url(url: str, expected: str) -> None:
    assert redact_url(url) == expected


def test_redact_text_covers_urls_inside_sentences_and_dsns() -> None:
    text = "failed: connect postgres://me:hunter22@db/x and host=db password=hunter22 user=me"
    out = redact_text(text)
    assert "hunter22" not in out
    assert "postgres://me:xxxxx@db/x" in out and "password=xxxxx" in out


def test_known_secrets_are_removed_verbatim() -> None:
    assert redact_text("the server said: bad 'Sup3rSecret'", ["Sup3rSecret"]) == "the server said: bad 'xxxxx'"


def test_database_url_never_shows_its_password() -> None:
    url = parse_database_url("postgres://u:topsecret@h/db")
    assert "topsecret" not in str(url) and "topsecret" not in repr(url)
    assert url.password == "topsecret"


@given(password=st.text(alphabet=st.characters(blacklist_categories=["Cs", "Zs", "Cc"]), min_size=4, max_size=30))
def test_any_password_in_a_url_is_redacted(password: str) -> None:
    url = f"postgres://user:{password}@host:5432/db"
    assert password not in redact_url(url).replace("xxxxx", "").split("@")[0].split("//user:")[-1] or \
        password == "xxxxx"
    assert "user:xxxxx@" in redact_url(url)
