"""Payment-to-invoice matching: pure Python, data in, data out (no Django models); compiled
by mypyc when a build of these sources exists (``payments.matching.compiled``)."""

from payments.matching import compiled as _compiled

# Before any of the engine's modules is imported: a fresh build goes first on the path.
COMPILED = _compiled.enable(__path__)

from payments.matching.engine import (  # noqa: E402
    ALTERNATIVE_FLOOR,
    MatchIndex,
    decide,
    name_similarity,
    worth_showing,
)
from payments.matching.normalize import invoice_number_key, name_form, number_mentions  # noqa: E402
from payments.matching.types import (  # noqa: E402
    AutoApplyDecision,
    OpenInvoice,
    PayerHistory,
    PaymentInput,
    Suggestion,
)

__all__ = [
    "ALTERNATIVE_FLOOR",
    "COMPILED",
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
    "worth_showing",
]
