"""The release tests' shared fixture: the project of test_release_e2e (version 1 applied, 50 users)."""

from test_release_e2e import project

__all__ = ["project"]
