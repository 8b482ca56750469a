"""Remove passwords from anything that may be printed, logged or stored.

Redaction errs on the side of hiding too much: a malformed URL whose password
contains ``@`` or ``/`` must not leak either, so the user-info part runs up to
the *last* ``@`` of the URL-like token, the way Go's ``net/url`` reads it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

__all__ = ["MASK", "redact_text", "redact_url"]

MASK = "xxxxx"

# A URL-like token: scheme "://" then everything up to whitespace or a quote.
_URL_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*://[^\s'\"<>]+")
# key=value secrets in DSNs, query strings and environment dumps.
_KEY_VALUE_SECRET = re.compile(
    r"(?i)\b(password|passwd|pwd|pgpassword|mysql_pwd|secret_access_key|aws_secret_access_key)"
    r"(\s*[=:]\s*)('[^']*'|\"[^\"]*\"|[^\s&;,'\"]+)"
)


def redact_url(url: str) -> str:
    """Return ``url`` with any password replaced by ``xxxxx``; never raises."""
    scheme_end = url.find("://")
    if scheme_end < 0:
        return _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, url)
    head, rest = url[: scheme_end + 3], url[scheme_end + 3 :]
    at = rest.rfind("@")
    if at >= 0:
        userinfo = rest[:at]
        colon = userinfo.find(":")
        if colon >= 0:
            rest = userinfo[: colon + 1] + MASK + rest[at:]
    return head + _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, rest)


_SECRET_HINTS = ("://", "pass", "pwd", "secret")


def redact_text(text: str, secrets: Iterable[str] = ()) -> str:
    """Redact every URL and ``password=`` pair in ``text``, and every known secret verbatim."""
    out = text
    lowered = text.lower()
    # The regexes cost real time on long reports; text without any hint of a secret skips them.
    if any(hint in lowered for hint in _SECRET_HINTS):
        out = _URL_TOKEN.sub(lambda m: redact_url(m.group(0)), out)
        out = _KEY_VALUE_SECRET.sub(lambda m: m.group(1) + m.group(2) + MASK, out)
    for secret in secrets:
        # Very short secrets would blank out ordinary words; URLs and key=value pairs
        # above already cover them where they can appear.
        if secret and len(secret) >= 4:
            out = out.replace(secret, MASK)
    return out
