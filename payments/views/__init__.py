"""Clerk pages of payments: the review queue (``queue``) and bank-file imports (``imports``)."""

from payments.views.customers import customer_panel
from payments.views.imports import import_detail, import_upload
from payments.views.queue import (
    allocate,
    apply_suggestion,
    invoice_panel,
    invoice_search,
    mark_reviewed,
    payment_detail,
    payment_list,
    review_queue,
    split_panel,
    unapply,
    write_off,
)

__all__ = [
    "allocate",
    "apply_suggestion",
    "customer_panel",
    "import_detail",
    "import_upload",
    "invoice_panel",
    "invoice_search",
    "mark_reviewed",
    "payment_detail",
    "payment_list",
    "review_queue",
    "split_panel",
    "unapply",
    "write_off",
]
