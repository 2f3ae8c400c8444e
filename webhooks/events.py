"""The event catalogue: every event type ARPilot emits, and what its ``data`` carries.

Every delivery body is ``{"id": <event uuid>, "type": <event type>, "created_at": <ISO 8601>,
"data": {...}}``; ``id`` is also the ``webhook-id`` header, the same on every retry.
"""

EVENT_TYPES: dict[str, str] = {
    "customer.created": "A customer was created. `data`: the customer as the API renders it.",
    "customer.updated": "A customer, its contacts or its tags changed. `data`: the customer.",
    "customer.deleted": "A customer was deleted. `data`: `{id, company_name, external_id}`.",
    "invoice.created": "An invoice was created. `data`: the invoice as the API renders it.",
    "invoice.updated": "An invoice changed. `data`: the invoice.",
    "invoice.paid": "An invoice's amount due reached zero. `data`: the invoice.",
    "invoice.overdue": "An open invoice passed its due date. `data`: the invoice.",
    "invoice.voided": "An invoice was voided. `data`: the invoice.",
    "payment.imported": "A payment was imported. `data`: the payment as the API renders it.",
    "payment.applied": "A payment was applied to an invoice. `data`: the payment.",
    "payment.unapplied": "A payment's allocation was removed. `data`: the payment.",
    "payment.reviewed": "A payment was marked reviewed. `data`: the payment.",
    "accounting_change.approved": "An accounting change was approved. `data`: the change.",
    "accounting_change.synced": "An accounting change was marked synced. `data`: the change.",
    "accounting_change.failed": "An accounting change failed to sync. `data`: the change.",
    "reminder.sent": "A dunning reminder is being sent (its email passed the last check). "
    "`data`: the reminder as the API renders it.",
    "promise.kept": "A promise to pay was paid in full. `data`: the promise.",
    "promise.broken": "A promise to pay was not paid in full by its date; dunning resumes. "
    "`data`: the promise.",
    "dispute.opened": "An invoice was disputed; it is out of dunning. `data`: the dispute.",
    "dispute.resolved": "A dispute was resolved (withdrawn, credit_note or write_off). "
    "`data`: the dispute.",
    "deduction.opened": "A short payment became a deduction (amount, invoice, reason code); "
    "the invoice's remainder is out of dunning while it is open. `data`: the deduction.",
    "deduction.resolved": "A deduction was resolved (write_off, credit_note, rebill or "
    "collected). `data`: the deduction.",
    "customer.credit_refunded": "Customer credit was paid back (an outgoing payment of a "
    "payment's remainder). `data`: the refund (`id`, `customer_id`, `payment_id`, `amount`, "
    "`currency`, `date`, `method`, `reference`, `journal_entry_id`, `accounting_change_id`).",
    "credit_note.created": "A credit note was created (a draft, or posted at once). `data`: "
    "the credit note as the API renders it.",
    "credit_note.posted": "A credit note was posted to the ledger. `data`: the credit note.",
    "credit_note.applied": "A credit note was applied to invoices (`allocations`). `data`: "
    "the credit note.",
    "credit_note.unapplied": "Allocations of a credit note were taken back (`unapplied_at`). "
    "`data`: the credit note.",
    "credit_note.voided": "A credit note was voided. `data`: the credit note.",
    "webhook.test": "Sent by `POST /api/v1/webhooks/{id}/test` to that endpoint only. "
    "`data`: `{endpoint_id, message}`.",
}

ALL_EVENTS = "*"


def catalogue_markdown() -> str:
    """The catalogue as a Markdown list, for the OpenAPI description."""
    lines = [f"- `{name}`: {text}" for name, text in EVENT_TYPES.items()]
    return "\n".join(lines)
