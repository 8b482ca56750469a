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


# --- the expressions run only where they can match (issue 11: status of 10,000 rows) ----------

def _redact_everywhere(text: str, secrets: list[str]) -> str:
    """The definition: both expressions over the whole text, then the verbatim secrets."""
    from safemigrate import redact

    out = redact._URL_TOKEN.sub(lambda m: redact_url(m.group(0)), text)
    out = redact._KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + "xxxxx", out)
    for secret in secrets:
        if secret and len(secret) >= 4:
            out = out.replace(secret, "xxxxx")
    return out


# Pieces that hostile text is made of: keywords in every case (and with the long s, which the
# expression's case-insensitive match reads as "s"), URL parts, separators, quotes and line breaks
# of every kind, including those that are whitespace to the expressions but not to str.splitlines.
_HOSTILE_PIECES = st.sampled_from([
    "password", "PassWord", "pa\u017f\u017fword", "PA\u017fSWD", "passwd", "pwd", "PWD", "pgpassword",
    "mysql_pwd", "secret_access_key", "AWS_SECRET_ACCESS_KEY", "SE\u212aRET", "secret", "\u017fecret",
    "://", "postgres://", "u:p@h/db", "mysql://a:b@tcp(h)/d", "@", ":", "=", " = ", "&", ";", ",",
    "'", '"', "<", ">", " ", "\t", "\n", "\r", "\r\n", "\x0b", "\x0c", "\x1c", "\x85", "\u2028",
    "(using password: YES)", "hunter22", "x", "9", "_", "-", ".", "+", "é", "\u0130",
])


@given(pieces=st.lists(_HOSTILE_PIECES, max_size=40), secrets=st.lists(st.sampled_from(
    ["hunter22", "secret", "p@h/", "xy"]), max_size=2))
def test_redacting_only_where_a_match_can_be_changes_nothing(pieces: list[str], secrets: list[str]) -> None:
    text = "".join(pieces)
    assert redact_text(text, secrets) == _redact_everywhere(text, secrets)


def test_the_long_s_spelling_of_password_is_still_redacted() -> None:
    # The case-insensitive expression matches it; a gate on text.lower() alone would skip it.
    assert redact_text("pa\u017fsword=hunter22") == "pa\u017fsword=xxxxx"


class _Recording:
    """Stands in for a compiled expression and records the length of every text it is run over."""

    def __init__(self, pattern: object) -> None:
        self.pattern = pattern
        self.seen: list[int] = []

        self.tried_at: list[int] = []

    def sub(self, repl: object, text: str) -> str:
        self.seen.append(len(text))
        return self.pattern.sub(repl, text)  # type: ignore[attr-defined, no-any-return]

    def match(self, text: str, pos: int = 0) -> object:
        self.tried_at.append(pos)
        return self.pattern.match(text, pos)  # type: ignore[attr-defined]


def test_a_long_table_with_one_url_runs_the_expressions_over_that_line_only(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate import redact

    url_token, key_value = _Recording(redact._URL_TOKEN), _Recording(redact._KEY_VALUE_SECRET)
    monkeypatch.setattr(redact, "_URL_TOKEN", url_token)
    monkeypatch.setattr(redact, "_KEY_VALUE_SECRET", key_value)
    header = "database:   postgres://me:hunter22@db:5432/app?sslmode=disable"
    rows = [f"{i:<6}  create_table_{i}  applied  2026-12-01 10:00:00 UTC  me@host" for i in range(1, 1001)]
    out = redact_text("\n".join([header, "", *rows, "", "0 pending"]))
    assert out.splitlines()[0] == "database:   postgres://me:xxxxx@db:5432/app?sslmode=disable"
    # The URL expression is tried once, where the header's URL starts (over the whole 70 KB table before).
    assert url_token.seen == [] and url_token.tried_at == [header.index("postgres")]
    # No keyword in the table: the key=value expression runs only inside the URL (its query string).
    assert key_value.seen == [len("me:xxxxx@db:5432/app?sslmode=disable")] and key_value.tried_at == []


def test_a_keyword_anywhere_still_runs_the_key_value_expression(monkeypatch: pytest.MonkeyPatch) -> None:
    from safemigrate import redact

    key_value = _Recording(redact._KEY_VALUE_SECRET)
    monkeypatch.setattr(redact, "_KEY_VALUE_SECRET", key_value)
    assert redact_text("line one\nhost=db PassWord =\n 'hunter 22' user=me") == \
        "line one\nhost=db PassWord =\n xxxxx user=me"
    assert key_value.tried_at  # tried where the keyword is, not skipped
