"""The reliability suite: the seed of the run is printed in the header (and by every test)."""

from __future__ import annotations

from reliability_support import SCALE, SEED


def pytest_report_header() -> list[str]:
    return [f"reliability: seed {SEED} (SAFEMIGRATE_RELIABILITY_SEED), scale {SCALE} "
            "(SAFEMIGRATE_RELIABILITY_SCALE)"]
