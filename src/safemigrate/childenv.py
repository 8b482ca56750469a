"""The environment a child process gets: ours, less every variable that may carry a secret of ours.

pg_dump, hooks and health commands must not find the database password in
``/proc/PID/environ``: the URL reaches a dump tool through a private passfile,
and a hook gets the release's context in ``SAFEMIGRATE_*`` variables, never a URL.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping

__all__ = ["SECRET_VARIABLES", "child_environment"]

# Variables that hold a database URL or password, ours and the clients'.
SECRET_VARIABLES = frozenset({
    "DATABASE_URL", "SAFEMIGRATE_DATABASE_URL", "PGPASSWORD", "MYSQL_PWD", "PGPASSFILE",
})


def child_environment(extra: Mapping[str, str] | None = None, *,
                      named_secrets: frozenset[str] = frozenset(),
                      secret_values: Iterable[str] = (),
                      base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) without secret variables, then ``extra``.

    ``named_secrets`` adds the variables a configuration names as holding a URL
    (``database_url_env = "PRODUCTION_DATABASE_URL"``); any variable whose value
    contains one of ``secret_values`` (the passwords in play) goes too, whatever its name.
    """
    source = os.environ if base is None else base
    drop = SECRET_VARIABLES | named_secrets
    values = [secret for secret in secret_values if secret and len(secret) >= 4]
    env = {key: value for key, value in source.items()
           if key not in drop and not any(secret in value for secret in values)}
    env.update(extra or {})
    return env
