"""How the clerk pages show a payment: the review-queue row (its links, suggestions with the
invoices' current balances, short texts, digest and cached HTML) and, after an action, what
the action changed in words."""

import hashlib
from dataclasses import dataclass
from decimal import Decimal

from django.core.cache import cache
from django.template import engines
from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import mark_safe

from arpilot.templatetags.money import format_money
from payments import selectors, services
from payments.models import Payment
from receivables.models import Invoice

# Rendered queue rows are cached under a digest of what they show (see ``_row_key``).
ROW_CACHE_SECONDS = 600
ROW_TEMPLATE = "payments/review_row.html"  # Jinja2: templates/jinja2/
SUGGESTIONS_SHOWN = selectors.SUGGESTIONS_SHOWN

PLACEHOLDER = "00000000-0000-0000-0000-000000000000"


class UrlPattern:
    """A route reversed once with a placeholder id; ``for_(id)`` fills it in (a page of 50
    rows needs hundreds of links, and ``reverse`` per link was most of its render time)."""

    def __init__(self, name: str, *extra):
        self.url = reverse(name, args=[PLACEHOLDER, *extra])

    def for_(self, pk) -> str:
        return self.url.replace(PLACEHOLDER, str(pk), 1)


def _row_urls() -> dict:
    names = {
        "detail": "payments:detail",
        "allocate": "payments:allocate",
        "write_off": "payments:write-off",
        "unapply": "payments:unapply",
        "review": "payments:review-mark",
        "search": "payments:invoice-search",
        "split": "payments:split-panel",
    }
    return {key: UrlPattern(name) for key, name in names.items()}


@dataclass
class SuggestedInvoice:
    id: str
    url: str
    number: str
    detail: str  # "Customer name · due $12.00", escaped by the template
    open: bool


# --- the review row ---------------------------------------------------------------------------


def attach_suggestions(organization, payments: list[Payment]) -> None:
    """Give each payment its links, ``top_suggestions`` with the suggested invoices' current
    balances (one query for the whole page) and the short texts its row shows (built here
    once rather than by many template nodes per row)."""
    currency = organization.currency
    wanted = {
        invoice_id
        for payment in payments
        for suggestion in list(payment.suggestions.all())[:SUGGESTIONS_SHOWN]
        for invoice_id in suggestion.invoice_ids
    }
    invoices = selectors.invoices_suggested(organization=organization, ids=wanted)
    patterns = _row_urls()
    invoice_url = UrlPattern("receivables:invoice")
    apply_url = UrlPattern("payments:apply", 1)
    for payment in payments:
        payment.urls = {key: pattern.for_(payment.pk) for key, pattern in patterns.items()}
        # Invoices are in the organization's currency; a payment in another one applies to
        # none of them (the service refuses it; the row says why).
        payment.currency_note = services.payment_currency_mismatch(payment, currency)
        payment.meta = " · ".join(
            part
            for part in (
                payment.payment_date.isoformat(),
                payment.payment_method,
                payment.external_payment_id,
            )
            if part
        )
        for allocation in payment.active_allocations:
            allocation.invoice_url = invoice_url.for_(allocation.invoice_id)
            allocation.detail = (
                f"(due now {format_money(allocation.invoice.amount_due, currency)}, "
                f"{allocation.invoice.get_status_display().lower()})"
            )
        payment.top_suggestions = [
            _present_suggestion(suggestion, invoices, currency, invoice_url, apply_url, payment)
            for suggestion in list(payment.suggestions.all())[:SUGGESTIONS_SHOWN]
        ]
        # A fully applied payment shows only the evidence of its best suggestion.
        applied = payment.status == Payment.Status.APPLIED
        payment.shown_suggestions = (
            payment.top_suggestions[:1] if applied else payment.top_suggestions
        )
        payment.short_total = sum(
            (
                allocation.invoice.amount_due
                for allocation in payment.active_allocations
                if not allocation.write_off_amount
                and allocation.invoice.status in Invoice.OPEN_STATUSES
            ),
            Decimal("0.00"),
        )
        payment.row_key = _row_key(payment, currency)


def _present_suggestion(suggestion, invoices, currency, invoice_url, apply_url, payment):
    """A suggestion with its invoices as they are now, its links and evidence as HTML."""
    suggestion.invoices = []
    for invoice_id, number in zip(suggestion.invoice_ids, suggestion.invoice_numbers, strict=False):
        invoice = invoices.get(str(invoice_id))
        detail = ""
        if invoice is not None:
            detail = (
                f"{invoice.rendered_customer_name} · due "
                f"{format_money(invoice.amount_due, currency)}"
            )
        suggestion.invoices.append(
            SuggestedInvoice(
                id=str(invoice_id),
                url=invoice_url.for_(invoice_id),
                number=invoice.invoice_number if invoice else number,
                detail=detail,
                open=bool(invoice and invoice.status in Invoice.OPEN_STATUSES),
            )
        )
    suggestion.apply_url = apply_url.for_(payment.pk)[: -len("/1")] + f"/{suggestion.rank}"
    suggestion.percent = round(suggestion.score * 100)
    # Escaped here with format_html_join: the queue shows up to 150 of these, and
    # as template loops they were most of the page's render time.
    suggestion.links = format_html_join(
        ", ",
        '<a href="{}">{}</a> <span class="muted small">{}</span>',
        ((item.url, item.number, item.detail) for item in suggestion.invoices),
    )
    suggestion.evidence = format_html_join(
        "", "<li>{}</li>", ((reason,) for reason in suggestion.reasons)
    )
    suggestion.still_fits = bool(suggestion.invoices) and all(
        item.open for item in suggestion.invoices
    )
    return suggestion


def _row_key(payment: Payment, currency: str) -> str:
    """A digest of everything a queue row shows, so a cached row is reused only while it
    would render the same (the payment, its allocations and suggestions, the invoices'
    balances and statuses, the currency)."""
    parts = [
        currency,
        payment.currency,
        str(payment.pk),
        payment.updated_at.isoformat(),
        payment.status,
        str(payment.applied_amount),
        str(payment.written_off_amount),
        str(payment.short_total),
        str(payment.reviewed),
        payment.meta,
        payment.payer_name,
        payment.payer_reference,
        payment.notes,
    ]
    for allocation in payment.active_allocations:
        parts += [str(allocation.pk), allocation.invoice.invoice_number, str(allocation.amount)]
        parts += [str(allocation.write_off_amount), allocation.detail]
    for suggestion in payment.top_suggestions:
        parts += [str(suggestion.pk), str(suggestion.still_fits), str(suggestion.amount)]
        parts += [f"{item.number}|{item.detail}|{item.open}" for item in suggestion.invoices]
        parts += [str(reason) for reason in suggestion.reasons]
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


def row_html(
    payment: Payment,
    currency: str,
    *,
    flash: bool = False,
    error: str = "",
    changes: list[str] = (),
    split_html: str = "",
) -> str:
    """A payment's review row (after ``attach_suggestions``), rendered by Jinja2."""
    template = engines["jinja2"].get_template(ROW_TEMPLATE).template
    # The template autoescapes everything it interpolates.
    return mark_safe(
        template.render(
            payment=payment,
            currency=currency,
            flash=flash,
            error=error,
            changes=changes,
            split_inline=bool(split_html),
            split_html=split_html,
        )
    )


def attach_rows(payments: list[Payment], currency: str) -> None:
    """Give each payment its ``row_html``: the rows cached under their digest come from one
    cache read; the others are rendered and cached together."""
    keys = {payment.pk: f"review-row:{payment.row_key}" for payment in payments}
    cached = cache.get_many(list(keys.values()))
    fresh = {}
    for payment in payments:
        html = cached.get(keys[payment.pk])
        if html is None:
            html = fresh[keys[payment.pk]] = str(row_html(payment, currency))
        payment.row_html = mark_safe(html)  # rendered (and escaped) by the row template
    if fresh:
        cache.set_many(fresh, ROW_CACHE_SECONDS)


# --- what an action changed -------------------------------------------------------------------


@dataclass
class Snapshot:
    """Balances before an action, to show the clerk what it changed."""

    payment_status: str
    applied: Decimal
    written_off: Decimal
    reviewed: bool
    invoices: dict


def snapshot(organization, payment: Payment, extra_invoice_ids=()) -> Snapshot:
    ids = {allocation.invoice_id for allocation in payment.active_allocations}
    ids.update(extra_invoice_ids)
    return Snapshot(
        payment_status=payment.status,
        applied=payment.applied_amount,
        written_off=payment.written_off_amount,
        reviewed=payment.reviewed,
        invoices=selectors.invoice_states(organization=organization, ids=ids),
    )


def changes(organization, before: Snapshot, payment: Payment) -> list[str]:
    """What an action changed, in words: the payment's status and money, each invoice's
    amount due and status."""
    currency = organization.currency  # the invoices' (and write-offs')
    paid_in = payment.currency or currency  # the payment's own
    labels = dict(Payment.Status.choices)
    lines = []
    if before.payment_status != payment.status:
        lines.append(f"Payment: {labels[before.payment_status]} → {labels[payment.status]}")
    if before.applied != payment.applied_amount:
        lines.append(
            f"Applied: {format_money(before.applied, paid_in)} → "
            f"{format_money(payment.applied_amount, paid_in)}"
        )
    if before.written_off != payment.written_off_amount:
        lines.append(
            f"Written off: {format_money(before.written_off, currency)} → "
            f"{format_money(payment.written_off_amount, currency)}"
        )
    ids = set(before.invoices) | {a.invoice_id for a in payment.active_allocations}
    after = selectors.invoice_states(organization=organization, ids=ids)
    statuses = dict(Invoice.Status.choices)
    for invoice_id in sorted(after, key=lambda pk: after[pk].invoice_number):
        new = after[invoice_id]
        old = before.invoices.get(invoice_id)
        if old is None or (old.amount_due, old.status) == (new.amount_due, new.status):
            continue
        text = (
            f"{new.invoice_number}: due {format_money(old.amount_due, currency)} → "
            f"{format_money(new.amount_due, currency)}"
        )
        if old.status != new.status:
            text += f" ({statuses[old.status]} → {statuses[new.status]})"
        lines.append(text)
    if before.reviewed != payment.reviewed:
        lines.append("Marked reviewed" if payment.reviewed else "Back in the review queue")
    return lines
