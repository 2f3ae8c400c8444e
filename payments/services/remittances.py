"""Remittance advice: read, stored, linked to its payment and applied line by line.

``remittance_create`` parses the advice (``payments.remittance``), finds the open invoice
each line names (by ``invoice_number_key``, as matching reads numbers), links the payment
(the one given, else the only unmatched payment of the advice's total — the payer's name or
reference breaking a tie) and, when every line names an open invoice of the payment's
currency, no line asks more than its invoice owes and the lines add up to the payment,
applies the payment line by line (``applied_by`` auto: no clerk did it) and opens a
deduction for each line whose invoice the payer left short (its reason when it names one of
the organization's reason codes, else ``unknown``). Anything else leaves the advice for a
clerk, with the reason, on the advice and on each line that caused it.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q

from arpilot.errors import NotFound, ValidationFailed
from credits.services.deductions import deduction_open
from payments import lock_objects
from payments.matching.normalize import invoice_number_key, name_form
from payments.models import Payment, PaymentAllocation
from payments.remittance import RemittanceError, parse_remittance
from payments.remittance_models import Remittance, RemittanceLine
from payments.services.allocations import allocation_apply, lock_invoices, save_money
from payments.services.common import organization_currency
from payments.services.match_candidates import NUMBER_DIGITS_SQL
from receivables.models import Invoice

ZERO = Decimal("0.00")
# Reason words in advice → the default deduction reason codes (``credits``).
REASON_WORDS = (
    ("pric", "pricing"),
    ("damag", "damaged_goods"),
    ("promo", "promotion"),
    ("freight", "freight"),
    ("shipping", "freight"),
    ("discount", "early_payment_discount"),
)


def _digits(key: str) -> str:
    return "".join(ch for ch in key if ch.isdigit()).lstrip("0")


def _open_invoices_named(organization, keys: set[str]) -> dict[str, list[Invoice]]:
    """Open invoices by the number key the advice wrote (one statement)."""
    keys = {key for key in keys if key}
    if not keys:
        return {}
    invoices = Invoice.objects.for_org(organization).open().filter(amount_due__gt=0)
    if connection.vendor == "postgresql":
        digits = sorted({_digits(key) for key in keys} - {""})
        invoices = invoices.extra(where=[f"{NUMBER_DIGITS_SQL} = ANY(%s)"], params=[digits])  # noqa: S610
    else:
        wanted = Q()
        for key in keys:
            wanted |= Q(invoice_number__iendswith=key[-4:])
        invoices = invoices.filter(wanted)
    found: dict[str, list[Invoice]] = {}
    for invoice in invoices:
        key = invoice_number_key(invoice.invoice_number)
        if key in keys:
            found.setdefault(key, []).append(invoice)
    return found


def _payment_for(organization, payment_id) -> Payment:
    try:
        payment_id = uuid.UUID(str(payment_id))
        return Payment.objects.for_org(organization).get(pk=payment_id)
    except (Payment.DoesNotExist, ValueError, TypeError) as exc:
        raise ValidationFailed(
            "Unknown payment.", fields={"payment_id": ["No such payment."]}
        ) from exc


def _payment_of_total(organization, remittance: Remittance) -> Payment | None:
    """The one unmatched payment of the advice's total (the payer or reference deciding
    between several); None when there is none or no way to choose."""
    if remittance.total <= 0:
        return None
    payments = list(
        Payment.objects.for_org(organization)
        .unmatched()
        .filter(amount=remittance.total, applied_amount=0)
        .order_by("-payment_date")[:20]
    )
    if len(payments) > 1 and remittance.payer_name:
        payer = name_form(remittance.payer_name).core
        payments = [p for p in payments if payer and name_form(p.payer_name).core == payer]
    if len(payments) > 1 and remittance.payment_reference:
        payments = [
            p for p in payments if remittance.payment_reference.lower() in p.payer_reference.lower()
        ]
    return payments[0] if len(payments) == 1 else None


@transaction.atomic
def remittance_create(
    *,
    organization,
    data: bytes | str,
    filename: str = "",
    payment_id=None,
    payer_name: str = "",
    payment_reference: str = "",
    field: str = "file",
) -> Remittance:
    """Store remittance advice, link it to its payment and apply it when it all fits."""
    try:
        parsed = parse_remittance(data, filename)
    except RemittanceError as exc:
        raise ValidationFailed(str(exc), fields={field: [str(exc)]}) from None
    payment = _payment_for(organization, payment_id) if payment_id else None
    text = data if isinstance(data, str) else data.decode("utf-8", errors="replace")
    remittance = Remittance.objects.create(
        organization=organization,
        format=parsed.format,
        filename=filename[:255],
        content=text,
        payer_name=payer_name[:255],
        payment_reference=payment_reference[:1000],
        total=parsed.total,
        rejected=[[number, reason] for number, reason in parsed.rejected],
    )
    named = _open_invoices_named(
        organization, {invoice_number_key(line.reference) for line in parsed.lines}
    )
    lines = []
    for line in parsed.lines:
        candidates = named.get(invoice_number_key(line.reference), [])
        status, message, invoice = RemittanceLine.Status.MATCHED, "", None
        if len(candidates) == 1:
            invoice = candidates[0]
        elif candidates:
            status, message = RemittanceLine.Status.REVIEW, "several open invoices have that number"
        else:
            status, message = RemittanceLine.Status.UNKNOWN, "no open invoice has that number"
        lines.append(
            RemittanceLine(
                remittance=remittance,
                line_number=line.line_number,
                reference=line.reference[:255],
                amount=line.amount,
                deduction=line.deduction,
                deduction_reason=line.reason[:255],
                invoice=invoice,
                status=status,
                message=message,
            )
        )
    RemittanceLine.objects.bulk_create(lines)
    if payment is None:
        payment = _payment_of_total(organization, remittance)
    if payment is None:
        remittance.reason = f"no unmatched payment of {remittance.total} to link it to yet"
        remittance.save(update_fields=["reason", "updated_at"])
        return remittance
    remittance_apply(organization=organization, remittance=remittance, payment_id=payment.pk)
    return remittance


def _review(remittance: Remittance, reason: str) -> Remittance:
    remittance.status = Remittance.Status.REVIEW
    remittance.reason = reason[:500]
    remittance.save(update_fields=["status", "reason", "payment", "updated_at"])
    return remittance


def _reason_code(text: str) -> str:
    lowered = text.lower()
    for word, code in REASON_WORDS:
        if word in lowered:
            return code
    return "unknown"


def _deduction_open(payment, invoice, line) -> None:
    """The line's deduction, for the reason code its words name (``unknown`` when the
    organization has no such code)."""
    note = f"remittance line {line.line_number} {line.deduction_reason}".strip()
    for code in dict.fromkeys((_reason_code(line.deduction_reason), "unknown")):
        try:
            deduction_open(
                organization=payment.organization,
                invoice=invoice,
                amount=line.deduction,
                reason_code=code,
                payment=payment,
                note=note,
                reason_field="remittance",
            )
            return
        except ValidationFailed:
            if code == "unknown":
                raise


@transaction.atomic
def remittance_apply(*, organization, remittance: Remittance, payment_id) -> Remittance:
    """Link the advice to the payment and apply it line by line if it all fits; else leave
    it (and the lines at fault) for a clerk with the reason."""
    payment = lock_objects.payment_for_update(organization, payment_id)
    remittance.payment = payment
    lines = list(remittance.lines.all())
    if remittance.rejected:
        return _review(remittance, f"{len(remittance.rejected)} line(s) of the advice unreadable")
    if payment.status != Payment.Status.UNMATCHED or payment.applied_amount > 0:
        return _review(remittance, "the payment is already applied")
    at_fault = [line for line in lines if line.status != RemittanceLine.Status.MATCHED]
    if at_fault:
        return _review(
            remittance,
            "; ".join(
                f"line {line.line_number} {line.reference}: {line.message}" for line in at_fault
            ),
        )
    if any(line.amount is None for line in lines):
        return _review(remittance, "a line gives no amount")
    total = sum((line.amount for line in lines), ZERO)
    if total != payment.amount:
        return _review(remittance, f"the lines total {total}, the payment is {payment.amount}")
    invoices = lock_invoices(payment, [], [line.invoice_id for line in lines])
    paid_in = (payment.currency or "").upper() or organization_currency(organization)
    problems = []
    for line in lines:
        invoice = invoices.get(line.invoice_id)
        if invoice is None or invoice.status not in Invoice.OPEN_STATUSES:
            problems.append((line, "the invoice is no longer open"))
        elif invoice.currency != paid_in:
            problems.append((line, f"the invoice is in {invoice.currency}: a clerk applies it"))
        elif line.amount > invoice.amount_due:
            problems.append((line, f"asks {line.amount}, the invoice owes {invoice.amount_due}"))
        elif line.deduction and line.amount + line.deduction != invoice.amount_due:
            problems.append(
                (line, f"{line.amount} plus the {line.deduction} deducted is not the "
                       f"{invoice.amount_due} owed")
            )  # fmt: skip
    if problems:
        for line, message in problems:
            line.status, line.message = RemittanceLine.Status.REVIEW, message[:500]
        RemittanceLine.objects.bulk_update([line for line, _ in problems], ["status", "message"])
        return _review(
            remittance,
            "; ".join(f"line {line.line_number} {line.reference}: {m}" for line, m in problems),
        )
    for line in lines:
        if line.amount > 0:
            allocation_apply(
                payment,
                invoices[line.invoice_id],
                line.amount,
                applied_by=PaymentAllocation.AppliedBy.AUTO,
                field="remittance",
            )
        line.status = RemittanceLine.Status.APPLIED
    save_money(payment)
    RemittanceLine.objects.bulk_update(lines, ["status"])
    for line in lines:
        if line.deduction > 0:  # what the payer deducted stays on the invoice as a deduction
            _deduction_open(payment, invoices[line.invoice_id], line)
    remittance.status = Remittance.Status.APPLIED
    remittance.reason = ""
    remittance.save(update_fields=["status", "reason", "payment", "updated_at"])
    from payments.services.money import _emit  # the payment's events, as an apply sends them

    _emit(payment, ["payment.applied"])
    return remittance


def remittance_get(*, organization, pk) -> Remittance:
    try:
        return Remittance.objects.for_org(organization).prefetch_related("lines").get(pk=pk)
    except (Remittance.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Remittance not found.") from exc
