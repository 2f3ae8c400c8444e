"""How the clerk pages show a payment: the review-queue row (its links, suggestions with the
invoices' current balances, short texts, digest and cached HTML) and, after an action, what
the action changed in words."""

import hashlib
import re
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

# Confidence bands: "sure" from the organization's auto-apply threshold, "likely" from here.
LIKELY_SCORE = 0.6


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
        "remember": "payments:remember-payer",
    }
    return {key: UrlPattern(name) for key, name in names.items()}


@dataclass
class SuggestedInvoice:
    id: str
    url: str
    number: str
    detail: str  # "Customer name · due $12.00" (or "· paid"), escaped by the template
    open: bool
    customer_id: str = ""


# --- the review row ---------------------------------------------------------------------------


def attach_suggestions(organization, payments: list[Payment], *, settings=None) -> None:
    """Give each payment its links, ``top_suggestions`` with the suggested invoices' current
    balances and confidence bands (one query for the whole page, and one for the
    organization's settings), what it may write off, and the short texts its row shows
    (built here once rather than by many template nodes per row)."""
    currency = organization.currency
    if settings is None:
        settings = services.payment_settings_get(organization=organization)
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
        # A fully applied payment shows only the evidence of its best suggestion; another
        # shows the suggestions that still fit (one whose invoice was paid since is no
        # suggestion any more: the row says how many were dropped).
        applied = payment.status == Payment.Status.APPLIED
        if applied:
            payment.shown_suggestions = payment.top_suggestions[:1]
        else:
            payment.shown_suggestions = [s for s in payment.top_suggestions if s.still_fits]
        payment.stale_count = len(payment.top_suggestions) - len(payment.shown_suggestions)
        payment.can_apply = not payment.currency_note and not applied
        _attach_bands(payment.shown_suggestions, settings)
        payment.short_total = sum(
            (
                allocation.invoice.amount_due
                for allocation in payment.active_allocations
                if not allocation.write_off_amount
                and allocation.invoice.status in Invoice.OPEN_STATUSES
            ),
            Decimal("0.00"),
        )
        _attach_write_off(payment, settings.write_off_tolerance)
        customers = {
            allocation.invoice.customer_id: allocation.invoice.rendered_customer_name
            for allocation in payment.active_allocations
        }
        payment.remember_customer = (
            next(iter(customers.values())) if len(customers) == 1 and payment.payer_name else ""
        )
        payment.row_key = _row_key(payment, currency)


def _attach_write_off(payment: Payment, tolerance: Decimal) -> None:
    """What the row may offer to write off: only what ``write_off_short`` accepts (all of
    the payment applied, the short total within the tolerance)."""
    short = payment.short_total
    payment.tolerance = tolerance
    payment.write_off_offer = (
        short if short > 0 and short <= tolerance and payment.unapplied_amount <= 0 else None
    )
    payment.short_beyond_tolerance = short if short > tolerance else None


def _attach_bands(suggestions: list, settings) -> None:
    """Band each suggestion (sure / likely / weak), flag ties (the same percentage) and say
    whether applying it needs the clerk's confirmation (anything but a clear "sure")."""
    threshold = float(settings.auto_apply_threshold)
    for suggestion in suggestions:
        if suggestion.score >= threshold:
            suggestion.band = "sure"
        elif suggestion.score >= LIKELY_SCORE:
            suggestion.band = "likely"
        else:
            suggestion.band = "weak"
        suggestion.band_label = BAND_LABELS[suggestion.band]
        suggestion.tied_with = [
            other.rank
            for other in suggestions
            if other is not suggestion and other.percent == suggestion.percent
        ]
        suggestion.needs_confirm = (
            suggestion.band != "sure" or bool(suggestion.tied_with) or bool(suggestion.changed)
        )
        suggestion.why_weak = _why_weak(suggestion) if suggestion.band == "weak" else ""


def _present_suggestion(suggestion, invoices, currency, invoice_url, apply_url, payment):
    """A suggestion with its invoices as they are now, its links and evidence as HTML."""
    suggestion.invoices = []
    for invoice_id, number in zip(suggestion.invoice_ids, suggestion.invoice_numbers, strict=False):
        invoice = invoices.get(str(invoice_id))
        is_open = bool(invoice and invoice.status in Invoice.OPEN_STATUSES)
        detail = ""
        if invoice is not None:
            balance = (
                f"due {format_money(invoice.amount_due, currency)}"
                if is_open
                else invoice.get_status_display().lower()
            )
            detail = f"{invoice.rendered_customer_name} · {balance}"
        suggestion.invoices.append(
            SuggestedInvoice(
                id=str(invoice_id),
                url=invoice_url.for_(invoice_id),
                number=invoice.invoice_number if invoice else number,
                detail=detail,
                open=is_open,
                customer_id=str(invoice.customer_id) if invoice and invoice.customer_id else "",
            )
        )
    suggestion.still_fits = bool(suggestion.invoices) and all(
        item.open for item in suggestion.invoices
    )
    suggestion.applies = suggestion.amount
    suggestion.changed = _balance_change(suggestion, invoices, payment, currency)
    reasons = suggestion.reasons
    if suggestion.changed:
        # What it would apply now, as the apply action spreads it (each invoice up to its
        # balance); the amount evidence of the matching run no longer holds.
        reasons = [
            "balance changed since matching: " + suggestion.changed,
            *(reason for reason in reasons if not _claims_amount_fits(reason)),
        ]
    suggestion.apply_url = apply_url.for_(payment.pk)[: -len("/1")] + f"/{suggestion.rank}"
    suggestion.percent = round(suggestion.score * 100)
    # Escaped here with format_html_join: the queue shows up to 150 of these, and
    # as template loops they were most of the page's render time.
    suggestion.links = format_html_join(
        ", ",
        '<a href="{}">{}</a> <span class="muted small">{}</span>',
        ((item.url, item.number, item.detail) for item in suggestion.invoices),
    )
    suggestion.evidence_items = [evidence_sentence(reason) for reason in reasons]
    suggestion.evidence = format_html_join(
        "",
        '<li><span class="ev-weight ev-{}">{}</span> {}</li>',
        (
            (item.weight, WEIGHT_LABELS[item.weight], item.text)
            for item in suggestion.evidence_items
        ),
    )
    return suggestion


def _balance_change(suggestion, invoices, payment, currency) -> str:
    """When the suggested invoices now owe less than the suggestion applies (a credit, an
    offline or another payment since matching), what applying it would do now; else "".
    Only for invoices in the payment's currency (across currencies the amounts differ)."""
    if not suggestion.still_fits:
        return ""
    paid_in = (payment.currency or currency or "").upper()
    found = [invoices.get(str(invoice_id)) for invoice_id in suggestion.invoice_ids]
    if any(invoice is None or (invoice.currency or "").upper() != paid_in for invoice in found):
        return ""
    due = sum((invoice.amount_due for invoice in found), Decimal("0"))
    if due >= suggestion.amount:
        return ""
    suggestion.applies = due
    left = suggestion.amount - due
    return (
        f"due now {format_money(due, paid_in)}; applying takes {format_money(due, paid_in)} "
        f"and leaves {format_money(left, paid_in)} unapplied"
    )


def _claims_amount_fits(reason: str) -> bool:
    """A matching reason about the amount fitting the balances it saw then."""
    return (
        reason == "amount equals open balance"
        or reason.startswith("short-pay:")
        or reason.endswith("total the amount")
    )


# --- evidence in words ------------------------------------------------------------------------

BAND_LABELS = {"sure": "Sure", "likely": "Likely", "weak": "Weak"}
WEIGHT_LABELS = {
    "strong": "Strong evidence",
    "some": "Some evidence",
    "slight": "Slight evidence",
    "against": "Counts against",
    "note": "Note",
}


@dataclass(frozen=True)
class Evidence:
    text: str  # a sentence
    weight: str  # a key of WEIGHT_LABELS
    kind: str  # "number", "amount", "name", "customer" or "other"


def _name_weight(similarity: float) -> str:
    if similarity >= 0.95:
        return "strong"
    if similarity >= 0.85:
        return "some"
    if similarity >= 0.7:
        return "slight"
    return "against"


def _name_sentence(match) -> Evidence:
    label, similarity = match.group(1), float(match.group(2))
    if similarity >= 0.995:
        text = f"The payer's name is the same as {label}'s."
    elif similarity >= 0.85:
        text = f"The payer's name is very close to {label} ({round(similarity * 100)}% alike)."
    elif similarity >= 0.7:
        text = f"The payer's name is somewhat like {label} ({round(similarity * 100)}% alike)."
    else:
        text = f"The payer's name is unlike {label} (only {round(similarity * 100)}% alike)."
    return Evidence(text, _name_weight(similarity), "name")


# The matching engine's reasons (payments/matching/engine.py) as sentences with their weight.
_EVIDENCE = [
    (
        re.compile(r"^balance changed since matching: (.+)$"),
        lambda m: Evidence(
            f"The balance changed since matching: {m.group(1)}.", "against", "other"
        ),
    ),
    (
        re.compile(r"^invoice number (\S+) in (.+)$"),
        lambda m: Evidence(f"The {m.group(2)} names invoice {m.group(1)}.", "strong", "number"),
    ),
    (
        re.compile(r"^number (\S+) in (.+) matches invoice (\S+)$"),
        lambda m: Evidence(
            f"The {m.group(2)} has the number {m.group(1)}, like invoice {m.group(3)}.",
            "some",
            "number",
        ),
    ),
    (
        re.compile(r"^the reference names another invoice$"),
        lambda m: Evidence("The reference names a different invoice.", "against", "other"),
    ),
    (
        re.compile(r"^the reference names an invoice number that is not open$"),
        lambda m: Evidence("The reference names an invoice that is not open.", "against", "other"),
    ),
    (
        re.compile(r"^amount equals open balance$"),
        lambda m: Evidence("The amount is exactly the invoice's open balance.", "strong", "amount"),
    ),
    (
        re.compile(r"^the (\d+) invoices total the amount$"),
        lambda m: Evidence(
            f"The {m.group(1)} named invoices add up to the amount exactly.", "strong", "amount"
        ),
    ),
    (
        re.compile(r"^(\d+) open invoices of (.+) total the amount$"),
        lambda m: Evidence(
            f"{m.group(1)} open invoices of {m.group(2)} add up to the amount.", "some", "amount"
        ),
    ),
    (
        re.compile(r"^short-pay: amount is (\S+) below open balance (\S+)$"),
        lambda m: Evidence(
            f"The amount is {m.group(1)} short of the open balance of {m.group(2)}.",
            "some",
            "amount",
        ),
    ),
    (
        re.compile(r"^partial payment of open balance (\S+)$"),
        lambda m: Evidence(
            f"The amount pays only part of the open balance of {m.group(1)}.", "against", "other"
        ),
    ),
    (
        re.compile(r"^amount exceeds open balance (\S+) by (\S+)$"),
        lambda m: Evidence(
            f"The amount is {m.group(2)} more than the open balance of {m.group(1)}.",
            "against",
            "other",
        ),
    ),
    (
        re.compile(r"^customer ID (.+) in reference$"),
        lambda m: Evidence(
            f"The reference has the customer's ID, {m.group(1)}.", "strong", "customer"
        ),
    ),
    (
        re.compile(r"^payer previously matched to this customer$"),
        lambda m: Evidence(
            "Money from this payer went to this customer before.", "some", "customer"
        ),
    ),
    (re.compile(r"^payer name ≈ (.+) \((\d(?:\.\d+)?)\)$"), _name_sentence),
]


def evidence_sentence(reason: str) -> Evidence:
    """A matching reason as a sentence with its weight (an unknown one as it is)."""
    for pattern, build in _EVIDENCE:
        match = pattern.match(str(reason))
        if match:
            return build(match)
    text = str(reason)
    return Evidence(text[:1].upper() + text[1:], "note", "other")


def _why_weak(suggestion) -> str:
    """Why a weak suggestion is weak, in one sentence."""
    items = suggestion.evidence_items
    kinds = {item.kind for item in items if item.weight in ("strong", "some")}
    missing = []
    if "number" not in kinds:
        missing.append("the reference names none of its invoices")
    if "amount" not in kinds:
        missing.append("the amount does not match their open balance")
    if not kinds & {"name", "customer"}:
        missing.append("nothing ties the payer to this customer")
    against = [item.text.rstrip(".").lower() for item in items if item.weight == "against"]
    parts = missing + [text[:1].lower() + text[1:] for text in against]
    if not parts:
        return f"Weak: only {suggestion.percent}% likely."
    return "Weak: " + "; ".join(dict.fromkeys(parts)) + "."


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
        str(payment.tolerance),
        str(payment.write_off_offer),
        payment.remember_customer,
    ]
    for allocation in payment.active_allocations:
        parts += [str(allocation.pk), allocation.invoice.invoice_number, str(allocation.amount)]
        parts += [str(allocation.write_off_amount), allocation.detail]
    for suggestion in payment.top_suggestions:
        parts += [str(suggestion.pk), str(suggestion.still_fits), str(suggestion.amount)]
        parts += [getattr(suggestion, "band", ""), str(getattr(suggestion, "tied_with", ""))]
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
    split_open: bool = False,
    confirm: dict | None = None,
) -> str:
    """A payment's review row (after ``attach_suggestions``), rendered by Jinja2: with what
    an action changed, its refusal, or the confirmation it asks for (``confirm``)."""
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
            split_open=split_open,
            confirm=confirm,
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


def changes(
    organization, before: Snapshot, payment: Payment, *, approved: int | None = None
) -> list[str]:
    """What an action changed, in words: the payment's status and money, each invoice's
    amount due and status, review (with the accounting changes it ``approved``)."""
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
        lines.append(reviewed_text(payment.reviewed, approved))
    return lines


def reviewed_text(reviewed: bool, approved: int | None) -> str:
    """What marking a payment (un)reviewed did, the approvals included."""
    if not reviewed:
        return (
            "Back in the review queue (accounting changes approved when it was reviewed "
            "stay approved)"
        )
    if approved is None:
        return "Marked reviewed"
    if approved == 0:
        return "Marked reviewed (no accounting changes were waiting for approval)"
    return (
        f"Marked reviewed and approved {approved} accounting change{'s' if approved != 1 else ''}"
    )
