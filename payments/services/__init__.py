"""Payments' services: money on payments (``money``, on top of ``allocations``), matching
runs (``matching``) and bank-file imports (``imports``), sharing ``common``.

Other code imports them from here; tests that patch a private name patch the module that
defines it.
"""

from payments.services.aliases import payer_alias_forget, payer_alias_remember, payer_alias_rename
from payments.services.allocations import (
    AllocationSpec,
    payment_currency_mismatch,
    payment_deduct_short,
)
from payments.services.common import payment_settings_get
from payments.services.imports import (
    payment_import_create,
    payment_import_run,
    payment_imports_requeue_stale,
)
from payments.services.matching import (
    MatchRun,
    payment_record,
    payments_match,
    payments_match_soon,
)
from payments.services.money import (
    Spread,
    Unapplied,
    amount_spread,
    payment_auto_apply,
    payment_create,
    payment_mark_reviewed,
    payment_unapply,
    payment_update,
    suggestion_allocations,
)

__all__ = [
    "AllocationSpec",
    "MatchRun",
    "Spread",
    "Unapplied",
    "amount_spread",
    "payer_alias_forget",
    "payer_alias_remember",
    "payer_alias_rename",
    "payment_auto_apply",
    "payment_create",
    "payment_currency_mismatch",
    "payment_deduct_short",
    "payment_import_create",
    "payment_import_run",
    "payment_imports_requeue_stale",
    "payment_mark_reviewed",
    "payment_record",
    "payment_settings_get",
    "payment_unapply",
    "payment_update",
    "payments_match",
    "payments_match_soon",
    "suggestion_allocations",
]
