"""``recover``: diagnose a half-applied migration against the catalog, then finish, undo or mark it."""

from .diagnose import Diagnosis, RepairOption, StatementVerdict, diagnose
from .repair import RepairResult, choose, repair

__all__ = ["Diagnosis", "RepairOption", "RepairResult", "StatementVerdict", "choose", "diagnose", "repair"]
