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

Advice that arrives before its payment waits (``unlinked``); ``remittances_link_waiting``
(called as payments are created over the API) and ``remittances_link_import`` (after a bank
file's import) link it to the new payment that carries its payment reference (as its bank
transaction id or in its reference), else to the one new payment of its total whose payer
agrees, and apply it the same way. Whether an organization has advice waiting is cached, so
creating a payment costs no query while none waits.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import Q

from arpilot.errors import ApplicationError, NotFound, ValidationFailed
from credits.services.deductions import deduction_open
from customers.models import Contact, Customer
from payments import lock_objects
from payments.matching import name_similarity
from payments.matching.normalize import account_key, invoice_number_key, name_form
from payments.models import PayerCustomerHistory, Payment, PaymentAllocation
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
    """The unmatched payment the advice is for (``_choose``) among those of its total or
    carrying its payment reference; None when there is none or no way to choose."""
    wanted = Q(amount=remittance.total) if remittance.total > 0 else Q(pk=None)
    reference = remittance.payment_reference.strip()
    if len(reference) >= 4:
        wanted |= Q(external_payment_id__iexact=reference) | Q(payer_reference__icontains=reference)
    payments = list(
        Payment.objects.for_org(organization)
        .unmatched()
        .filter(wanted, applied_amount=0)
        .order_by("-payment_date", "pk")[:20]
    )
    if not payments:
        return None
    of_total = [p for p in payments if p.amount == remittance.total]
    return _choose(remittance, payments, sole_of_total=lambda: len(of_total) == 1)


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
        filename=filename.replace("\x00", "")[:255],
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
        _mark_waiting(organization.pk)
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
    it (and the lines at fault) for a clerk with the reason. An advice that adds up to the
    payment but names an invoice that is not open has its other lines applied; the unknown
    lines' money stays on the payment and the advice goes to a clerk, saying which."""
    payment = lock_objects.payment_for_update(organization, payment_id)
    remittance.payment = payment
    lines = list(remittance.lines.all())
    if remittance.rejected:
        return _review(remittance, f"{len(remittance.rejected)} line(s) of the advice unreadable")
    if payment.status != Payment.Status.UNMATCHED or payment.applied_amount > 0:
        return _review(remittance, "the payment is already applied")
    unknown = [line for line in lines if line.status == RemittanceLine.Status.UNKNOWN]
    at_fault = [
        line
        for line in lines
        if line.status not in (RemittanceLine.Status.MATCHED, RemittanceLine.Status.UNKNOWN)
    ]
    if at_fault or len(unknown) == len(lines):
        return _review(
            remittance,
            "; ".join(
                f"line {line.line_number} {line.reference}: {line.message}"
                for line in at_fault or unknown
            ),
        )
    if any(line.amount is None for line in lines):
        return _review(remittance, "a line gives no amount")
    total = sum((line.amount for line in lines), ZERO)
    if total != payment.amount:
        return _review(remittance, f"the lines total {total}, the payment is {payment.amount}")
    # The advice adds up: its lines naming an open invoice are applied, and those naming
    # none (a typo, an invoice not yet issued) stay with the rest of the payment for a clerk.
    lines = [line for line in lines if line.status != RemittanceLine.Status.UNKNOWN]
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
    if unknown:
        remittance.status = Remittance.Status.REVIEW
        remittance.reason = "; ".join(
            f"line {line.line_number} {line.reference}: {line.message} (its "
            f"{line.amount} is left on the payment for a clerk)"
            for line in unknown
        )[:500]
    else:
        remittance.status, remittance.reason = Remittance.Status.APPLIED, ""
    remittance.save(update_fields=["status", "reason", "payment", "updated_at"])
    from payments.services.money import _emit  # the payment's events, as an apply sends them

    _emit(payment, ["payment.applied"])
    return remittance


def remittance_get(*, organization, pk) -> Remittance:
    try:
        return Remittance.objects.for_org(organization).prefetch_related("lines").get(pk=pk)
    except (Remittance.DoesNotExist, ValueError, TypeError) as exc:
        raise NotFound("Remittance not found.") from exc


# --- advice that arrived before its payment ------------------------------------------------------

# Whether an organization may have advice waiting for its payment: True for an hour after
# advice was left waiting, False for a minute after a look found none (a miss reads the table).
WAITING_SECONDS = 3600
NONE_WAITING_SECONDS = 60
# The waiting advice a look reads at most (the newest first).
MAX_WAITING = 500
# Payer names this alike (matching's measure) agree.
PAYER_AGREES = 0.85


def _waiting_cache_key(organization_id) -> str:
    return f"payments:remittances-waiting:{organization_id}"


def _mark_waiting(organization_id) -> None:
    key = _waiting_cache_key(organization_id)
    cache.set(key, True, WAITING_SECONDS)
    transaction.on_commit(lambda: cache.set(key, True, WAITING_SECONDS))


def _waiting(organization_id) -> list[Remittance]:
    """Advice waiting for its payment, the newest first (no query while the cache says none
    waits; a look that finds none says so for a minute)."""
    key = _waiting_cache_key(organization_id)
    if cache.get(key) is False:
        return []
    found = list(
        Remittance.objects.for_org(organization_id)
        .filter(status=Remittance.Status.UNLINKED, payment__isnull=True)
        .defer("content")
        .order_by("-created_at")[:MAX_WAITING]
    )
    if not found:
        cache.set(key, False, NONE_WAITING_SECONDS)
    return found


def _reference_names(remittance: Remittance, payment: Payment) -> bool:
    reference = remittance.payment_reference.strip().lower()
    if not reference:
        return False
    return reference == payment.external_payment_id.strip().lower() or (
        len(reference) >= 4 and reference in payment.payer_reference.lower()
    )


class _KnownPayers:
    """Who may pay the advice: the payer it names, the customers whose invoices its lines
    name (their names and contacts' names) and what clerks taught matching about them
    (payer names and accounts). Read on first use (three statements)."""

    def __init__(self, remittance: Remittance):
        self.remittance = remittance
        self._forms: list | None = None
        self._keys: set[str] = set()

    def _read(self) -> list:
        if self._forms is not None:
            return self._forms
        names = [self.remittance.payer_name] if self.remittance.payer_name else []
        customer_ids = set(
            RemittanceLine.objects.filter(
                remittance=self.remittance, invoice__isnull=False
            ).values_list("invoice__customer_id", flat=True)
        )
        if customer_ids:
            org_id = self.remittance.organization_id
            names += (
                Customer.objects.for_org(org_id)
                .filter(pk__in=customer_ids)
                .values_list("company_name", flat=True)
            )
            names += Contact.objects.filter(
                organization_id=org_id, customer_id__in=customer_ids
            ).values_list("contact_name", flat=True)
            self._keys = set(
                PayerCustomerHistory.objects.for_org(org_id)
                .filter(customer_id__in=customer_ids)
                .values_list("payer_key", flat=True)
            )
        self._forms = [form for form in map(name_form, names) if form.core]
        return self._forms

    def agree(self, payment: Payment) -> bool:
        """The payment's payer is one of them (alike by name, or a learned name or account)."""
        forms = self._read()
        form = name_form(payment.payer_name)
        account = account_key(payment.payer_account)
        if (account and account in self._keys) or (form.full and form.full in self._keys):
            return True
        if not form.core:
            return False
        return any(
            max(name_similarity(form, known), name_similarity(known, form)) >= PAYER_AGREES
            or _initial_of(form, known)
            for known in forms
        )


def _initial_of(payer, known) -> bool:
    """ "F OKAFOR" for the contact "Femi Okafor": an initial and the same surname."""
    first, *rest = payer.tokens or ("",)
    known_first, *known_rest = known.tokens or ("",)
    return (
        len(first) == 1
        and len(rest) == 1
        and known_rest == rest
        and len(known_first) > 1
        and known_first.startswith(first)
    )


def _choose(remittance: Remittance, payments: list[Payment], *, sole_of_total) -> Payment | None:
    """The one payment the advice is for among ``payments``: the one carrying its payment
    reference; else, of those of its total, the one whose payer is the advice's or its
    invoices' customer (``_KnownPayers``); else the only one of its total when it names no
    payer to go by (none, or words like "BILL PAY SERVICE") and ``sole_of_total()`` says no
    other unmatched payment has that amount. None when it cannot tell."""
    open_payments = [
        p for p in payments if p.status == Payment.Status.UNMATCHED and p.applied_amount <= 0
    ]
    named = [p for p in open_payments if _reference_names(remittance, p)]
    if named:
        return named[0] if len(named) == 1 else None
    if remittance.total <= 0:
        return None
    of_total = [p for p in open_payments if p.amount == remittance.total]
    if not of_total:
        return None
    known = _KnownPayers(remittance)
    agreeing = [p for p in of_total if known.agree(p)]
    if agreeing:
        return agreeing[0] if len(agreeing) == 1 else None
    if len(of_total) == 1 and not name_form(of_total[0].payer_name).informative and sole_of_total():
        return of_total[0]
    return None


def _lines_refresh(organization, remittance: Remittance) -> None:
    """Look again for the invoices of lines no open invoice had when the advice came."""
    unknown = [
        line for line in remittance.lines.all() if line.status == RemittanceLine.Status.UNKNOWN
    ]
    if not unknown:
        return
    named = _open_invoices_named(
        organization, {invoice_number_key(line.reference) for line in unknown}
    )
    changed = []
    for line in unknown:
        candidates = named.get(invoice_number_key(line.reference), [])
        if len(candidates) == 1:
            line.invoice, line.status, line.message = (
                candidates[0],
                RemittanceLine.Status.MATCHED,
                "",
            )
            changed.append(line)
        elif candidates:
            line.status = RemittanceLine.Status.REVIEW
            line.message = "several open invoices have that number"
            changed.append(line)
    if changed:
        RemittanceLine.objects.bulk_update(changed, ["invoice", "status", "message"])


def _link(organization, waiting: list[Remittance], payments: list[Payment]) -> int:
    """Link each waiting advice to the one new payment it fits (a payment two advices fit
    is left to a clerk) and apply it; how many were linked."""
    chosen: dict = {}
    for remittance in waiting:
        payment = _choose(
            remittance,
            payments,
            sole_of_total=lambda remittance=remittance: (
                Payment.objects.for_org(organization)
                .unmatched()
                .filter(amount=remittance.total)
                .count()
                == 1
            ),
        )
        if payment is not None:
            chosen.setdefault(payment.pk, []).append(remittance)
    linked = 0
    for payment_id, advices in chosen.items():
        if len(advices) != 1:
            continue
        remittance = advices[0]
        try:
            with transaction.atomic():
                # Another payment created meanwhile may have taken it.
                if not (
                    Remittance.objects.select_for_update()
                    .filter(pk=remittance.pk, status=Remittance.Status.UNLINKED, payment=None)
                    .exists()
                ):
                    continue
                _lines_refresh(organization, remittance)
                remittance_apply(
                    organization=organization, remittance=remittance, payment_id=payment_id
                )
        except ApplicationError as exc:  # e.g. a deduction the credits app refused
            remittance.refresh_from_db()
            remittance.payment_id = payment_id
            _review(remittance, f"could not be applied: {exc}")
        linked += 1
    return linked


def remittances_link_waiting(organization, payments: list[Payment]) -> int:
    """Advice that arrived before these just-created payments: linked and applied (see the
    module's doc). No query while the organization has no advice waiting (cached)."""
    org_id = getattr(organization, "pk", organization)
    waiting = _waiting(org_id)
    if not waiting:
        return 0
    if not hasattr(organization, "pk"):
        from arpilot.models import Organization

        organization = Organization.objects.get(pk=org_id)
    return _link(organization, waiting, payments)


def remittances_link_import(organization_id, import_id) -> int:
    """After a bank file's import: link waiting advice to the payments it created."""
    waiting = _waiting(organization_id)
    if not waiting:
        return 0
    totals = {remittance.total for remittance in waiting if remittance.total > 0}
    references = {
        remittance.payment_reference.strip()
        for remittance in waiting
        if remittance.payment_reference.strip()
    }
    wanted = Q(amount__in=totals) | Q(external_payment_id__in=references)
    for reference in sorted(references)[:100]:
        if len(reference) >= 4:
            wanted |= Q(payer_reference__icontains=reference)
    payments = list(
        Payment.objects.for_org(organization_id)
        .filter(payment_import_id=import_id, status=Payment.Status.UNMATCHED)
        .filter(wanted)
    )
    if not payments:
        return 0
    from arpilot.models import Organization

    return _link(Organization.objects.get(pk=organization_id), waiting, payments)
