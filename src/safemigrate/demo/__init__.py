"""``safemigrate demo``: a narrated walkthrough of the runbook on a throwaway database."""

from __future__ import annotations

from .walkthrough import DemoFailed, run_demo

__all__ = ["DemoFailed", "run_demo"]
