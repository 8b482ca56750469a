"""The environment a child process gets: ours, less every variable that may carry a secret of ours.

pg_dump, hooks and health commands must not find the database password in
``/proc/PID/environ``: the URL reaches a dump tool through a private passfile,
and a hook gets the release's context in ``SAFEMIGRATE_*`` variables, never a URL.
"""

from __future__ import annotations

import os
from collections.abc import Mapping

__all__ = ["SECRET_VARIABLES", "child_environment"]

# Variables that hold a database URL or password, ours and the clients'.
SECRET_VARIABLES = frozenset({
    "DATABASE_URL", "SAFEMIGRATE_DATABASE_URL", "PGPASSWORD", "MYSQL_PWD", "PGPASSFILE",
})


def child_environment(extra: Mapping[str, str] | None = None, *,
                      named_secrets: frozenset[str] = frozenset(),
                      base: Mapping[str, str] | None = None) -> dict[str, str]:
    """``base`` (default os.environ) without secret variables, then ``extra``.

    ``named_secrets`` adds the variables a configuration names as holding a URL
    (``database_url_env = "PRODUCTION_DATABASE_URL"``).
    """
    source = os.environ if base is None else base
    drop = SECRET_VARIABLES | named_secrets
    env = {key: value for key, value in source.items() if key not in drop}
    env.update(extra or {})
    return env
