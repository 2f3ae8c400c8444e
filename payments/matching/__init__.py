"""Payment-to-invoice matching: pure Python, data in, data out (no Django models)."""

from payments.matching.engine import MatchIndex, decide, name_similarity
from payments.matching.normalize import invoice_number_key, name_form, number_mentions
from payments.matching.types import (
    AutoApplyDecision,
    OpenInvoice,
    PayerHistory,
    PaymentInput,
    Suggestion,
)

__all__ = [
    "AutoApplyDecision",
    "MatchIndex",
    "OpenInvoice",
    "PayerHistory",
    "PaymentInput",
    "Suggestion",
    "decide",
    "invoice_number_key",
    "name_form",
    "name_similarity",
    "number_mentions",
]
