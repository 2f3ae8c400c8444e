"""Credits' write operations: deductions opened, changed and resolved (``deductions``), and
the organization's reason codes (``reasons``)."""

from credits.services.deductions import (
    deduction_open,
    deduction_resolve,
    deduction_update,
    reason_by_code,
)
from credits.services.reasons import (
    DEFAULT_REASONS,
    reason_create,
    reason_update,
    reasons_ensure,
    reasons_seed,
)

__all__ = [
    "DEFAULT_REASONS",
    "deduction_open",
    "deduction_resolve",
    "deduction_update",
    "reason_by_code",
    "reason_create",
    "reason_update",
    "reasons_ensure",
    "reasons_seed",
]
