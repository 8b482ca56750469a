"""Remove passwords from anything that may be printed, logged or stored.

Redaction errs on the side of hiding too much: a malformed URL whose password
contains ``@`` or ``/`` must not leak either, so the user-info part runs up to
the *last* ``@`` of the URL-like token, the way Go's ``net/url`` reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "redact_text", "redact_url", "url_secrets"]

MASK = "xxxxx"

# A URL-like token: scheme "://" then everything up to whitespace or a quote.
_URL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
# key=value secrets in DSNs, query strings and environment dumps. MariaDB's own words
# "(using password: YES)" / "(using password: NO)" are not a secret and stay readable.
_KEY_VALUE_SECRET = re.compile(
    r"(?i)\b(password|passwd|pwd|pgpassword|mysql_pwd|secret_access_key|aws_secret_access_key)"
    r"(\s*[=:]\s*)(?!(?:YES|NO)\))('[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)"
)
# Characters that end a URL part: a password holding one is read in pieces by URL parsers,
# and a piece may then appear in their error messages.
_URL_DELIMITERS = re.compile(r"[/#?@\[\]]")


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``xxxxx``; never raises."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        at = url.rfind("@")
        if at >= 0 and not any(ch.isspace() for ch in url):
            # No scheme (postgres:pass@host/db): everything before the last @ may be the password.
            return MASK + url[at:]
        return _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, url)
    head, rest = url[: scheme_end + 3], url[scheme_end + 3 :]
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        colon = userinfo.find(":")
        if colon >= 0:
            rest = userinfo[: colon + 1] + MASK + rest[at:]
    return head + _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, rest)


def url_secrets(url: str) -> set[str]:
    """Every text of ``url`` that may be its password, for verbatim masking; never raises.

    Read without a URL parser, so that a URL no parser accepts (no scheme, a raw ``/``,
    ``@`` or ``#`` in the password, bad percent-encoding) still gives its password:
    the user-info runs up to the *last* ``@`` and the password from its first ``:``.
    The decoded forms and the pieces a parser would cut the password into are included.
    """
    from urllib.parse import unquote, unquote_plus

    rest = url.split("://", 1)[1] if "://" in url else url
    at = rest.rfind("@")
    if at < 0:
        return set()
    _user, colon, password = rest[:at].partition(":")
    if not colon or not password:
        return set()
    found = {password, unquote(password), unquote_plus(password)}
    for text in list(found):
        found.update(_URL_DELIMITERS.split(text))
        found.update(text.split(":"))
    return {text for text in found if text}


# Every keyword of _KEY_VALUE_SECRET contains one of these (lower-cased), so text without any
# of them cannot hold a key=value secret. U+017F (long s) is the one character outside ASCII
# that the expression's case-insensitive match takes for an ASCII letter of a keyword ("s")
# while str.lower() keeps it apart: it is folded too, so that the gate never skips a match.
_KEY_VALUE_HINTS = ("pass", "pwd", "secret")
_LONG_S = "\u017f"


def _may_hold_key_value_secret(text: str) -> bool:
    lowered = text.lower()
    if _LONG_S in lowered:
        lowered = lowered.replace(_LONG_S, "s")
    return any(hint in lowered for hint in _KEY_VALUE_HINTS)


def _redact_match(match: re.Match[str]) -> str:
    return redact_url(match.group(0))


def _redact_urls(text: str) -> str:
    """``_URL_TOKEN`` replaced in ``text``, run only over the lines that contain "://".

    A URL token holds no whitespace, so no match crosses a line break, and one line without
    "://" holds none: the result is the expression's over the whole text, at the cost of the
    lines that name a URL (a status table of 10,000 rows has one, its header).
    """
    found = text.find("://")
    if found < 0:
        return text
    pieces: list[str] = []
    done = 0  # text[:done] is handled; done is 0 or just after a line break
    while found >= 0:
        line_break = text.rfind("\n", done, found)
        start = line_break + 1 if line_break >= 0 else done
        end = text.find("\n", found)
        if end < 0:
            end = len(text)
        pieces.append(text[done:start])
        pieces.append(_URL_TOKEN.sub(_redact_match, text[start:end]))
        done = end
        found = text.find("://", end)
    pieces.append(text[done:])
    return "".join(pieces)


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact every URL and ``password=`` pair in ``text``, and every known secret verbatim."""
    # The expressions cost real time on long reports (a status table of 10,000 rows): each runs
    # only where it can match.
    out = _redact_urls(text)
    if _may_hold_key_value_secret(out):
        out = _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, out)
    for secret in secrets:
        # Very short secrets would blank out ordinary words; URLs and key=value pairs
        # above already cover them where they can appear.
        if secret and len(secret) >= 4:
            out = out.replace(secret, MASK)
    return out
