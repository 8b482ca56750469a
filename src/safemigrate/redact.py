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


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact every URL and ``password=`` pair in ``text``, and every known secret verbatim."""
    # The expressions cost real time on long reports (a status table of 10,000 rows, a lint
    # report of a few hundred KB): each is tried only where it can match.
    out = _redact_urls(text)
    if _may_hold_key_value_secret(out):
        out = _redact_key_values(out)
    for secret in secrets:
        # Very short secrets would blank out ordinary words; URLs and key=value pairs
        # above already cover them where they can appear.
        if secret and len(secret) >= 4:
            out = out.replace(secret, MASK)
    return out


# The two substitutions above, as re.sub would make them, but trying the expressions only where
# a match can start: re.sub tries every position of the text, which for a lint report of a few
# hundred KB cost 20 ms. Each match is still decided by the expression itself.

_LETTERS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
_SCHEME_CHARS = _LETTERS | frozenset("0123456789+.-")


def _redact_urls(text: str) -> str:
    """``_URL_TOKEN.sub(redact_url)``: a URL-like token holds ``://``, its scheme runs back from it."""
    pieces: list[str] = []
    done = 0  # where the last match ended: re.sub goes on from there
    found = text.find("://")
    while found >= 0:
        start = found
        while start > done and text[start - 1] in _SCHEME_CHARS:
            start -= 1
        while start < found and text[start] not in _LETTERS:
            start += 1  # the leftmost match begins at the run's first letter
        match = _URL_TOKEN.match(text, start) if start < found else None
        if match is not None:
            pieces += [text[done:start], redact_url(match.group(0))]
            done = match.end()
        found = text.find("://", max(found + 1, done))
    return "".join(pieces) + text[done:] if pieces else text


# Where each secret key word holds a hint (lower-cased), and how far from its start.
_KEY_HINTS = (("pass", (0, 2)), ("pwd", (0, 6)), ("secret", (0, 4)))


def _redact_key_values(text: str) -> str:
    """``_KEY_VALUE_SECRET.sub(key=xxxxx)``: tried only a few characters before each hint.

    Only for ASCII text, where case-insensitive matching is matching the lower-cased text;
    other text (where Unicode case folding may match more) is left to re.sub.
    """
    if not text.isascii():
        return _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, text)
    lowered = text.lower()
    starts: set[int] = set()
    for hint, offsets in _KEY_HINTS:
        at = lowered.find(hint)
        while at >= 0:
            starts.update(at - offset for offset in offsets if at >= offset)
            at = lowered.find(hint, at + 1)
    pieces: list[str] = []
    done = 0
    for start in sorted(starts):
        if start < done:
            continue
        match = _KEY_VALUE_SECRET.match(text, start)
        if match is not None:
            pieces += [text[done:start], match.group(1), match.group(2), MASK]
            done = match.end()
    return "".join(pieces) + text[done:] if pieces else text
