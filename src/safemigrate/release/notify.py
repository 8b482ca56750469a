"""Notifications: a Slack-compatible JSON webhook (``{"text": ...}`` plus our fields).

A notification that fails is reported and never fails the release: the database
matters more than the chat message about it.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from ..errors import UsageError
from ..redact import redact_text, redact_url

__all__ = ["NotifyResult", "check_webhook_url", "notify"]


@dataclass(frozen=True)
class NotifyResult:
    url: str  # redacted
    ok: bool
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return {"url": self.url, "ok": self.ok, "detail": self.detail}


def check_webhook_url(url: str) -> str:
    if not url.startswith(("http://", "https://")):
        raise UsageError(f"`release.notify` URL {redact_url(url)!r} must start with http:// or https://",
                         settings=("release.notify",))
    return url


def notify(url: str, text: str, fields: Mapping[str, Any], *, timeout: float = 5.0,
           secrets: Iterable[str] = ()) -> NotifyResult:
    """POST ``{"text": text, "safemigrate": fields}``; any password is masked before it leaves."""
    secrets = tuple(secrets)
    body = json.dumps({"text": redact_text(text, secrets),
                       "safemigrate": json.loads(redact_text(json.dumps(dict(fields), default=str), secrets))})
    request = urllib.request.Request(url, data=body.encode(), method="POST",
                                     headers={"Content-Type": "application/json",
                                              "User-Agent": "safemigrate-notify"})
    shown = redact_url(url)
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return NotifyResult(shown, True, f"HTTP {response.status}")
    except urllib.error.HTTPError as exc:
        return NotifyResult(shown, False, f"HTTP {exc.code}")
    except (urllib.error.URLError, OSError, ValueError) as exc:
        return NotifyResult(shown, False, redact_text(f"no answer: {getattr(exc, 'reason', exc)}", secrets))
