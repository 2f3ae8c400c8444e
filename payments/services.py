"""Payments: creation, applying money to invoices, write-offs, review, matching, imports.

Money moves only through ``receivables.services.invoice_apply_payment`` and
``invoice_unapply_payment`` (each posts one journal entry). Lock order: the payment row first
(``lock_objects.payment_for_update``), then every invoice involved in primary-key order
(``receivables.lock_objects.invoices_for_update``), then the invoice services re-lock the rows
they already hold. Balances are read only after those locks, so concurrent requests serialise
on the payment and on the invoices and never apply the same money twice.
"""

from __future__ import annotations

import gc
import logging
import os
import threading
import time
import zlib
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

import orjson
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, connection, transaction
from django.db.models import F
from django.utils import timezone

from arpilot import hooks
from arpilot.errors import Conflict, ValidationFailed
from payments import lock_objects
from payments.models import (
    ZERO,
    MatchSuggestion,
    PayerCustomerHistory,
    Payment,
    PaymentAllocation,
    PaymentSettings,
)
from receivables import lock_objects as invoice_locks
from receivables.models import Account, Invoice
from receivables.services import invoice_apply_payment, invoice_unapply_payment
from webhooks.models import WebhookEndpoint
from webhooks.services import event_emit

logger = logging.getLogger(__name__)

WRITE_OFF_ACCOUNT_NUMBER = 6950
WRITE_OFF_ACCOUNT_NAME = "Short-payment write-offs"
_UNSET = object()


# --- settings ---------------------------------------------------------------------------------


def payment_settings_get(*, organization) -> PaymentSettings:
    """The organization's payment settings (created with the defaults on first use)."""
    org_id = getattr(organization, "pk", organization)
    found = PaymentSettings.objects.filter(organization_id=org_id).first()
    if found is not None:
        return found
    try:
        with transaction.atomic():
            return PaymentSettings.objects.create(organization_id=org_id)
    except IntegrityError:
        return PaymentSettings.objects.get(organization_id=org_id)


def _write_off_account(organization) -> Account:
    """The expense account write-offs post to (6950 "Short-payment write-offs", created once)."""
    from receivables.services import account_create

    org_id = getattr(organization, "pk", organization)
    payment_settings_get(organization=org_id)
    locked = lock_objects.payment_settings_for_update(org_id)
    if locked.write_off_account_id is not None:
        return locked.write_off_account
    account = (
        Account.objects.for_org(org_id).filter(account_number=WRITE_OFF_ACCOUNT_NUMBER).first()
    )
    if account is None or account.type != Account.Type.EXPENSE:
        number = WRITE_OFF_ACCOUNT_NUMBER
        while Account.objects.for_org(org_id).filter(account_number=number).exists():
            number += 1
        account = account_create(
            organization=locked.organization,
            account_number=number,
            name=WRITE_OFF_ACCOUNT_NAME,
            type=Account.Type.EXPENSE,
        )
    locked.write_off_account = account
    locked.save(update_fields=["write_off_account"])
    return account


# --- events -----------------------------------------------------------------------------------


def _subscribed(organization_id: int, event_type: str) -> bool:
    return any(
        endpoint.subscribes_to(event_type)
        for endpoint in WebhookEndpoint.objects.for_org(organization_id).filter(is_active=True)
    )


def _emit(payment: Payment, event_types: list[str]) -> None:
    """Emit events with the payment as the API renders it (rendered only if anyone listens)."""
    from payments.rendering import render_payment
    from payments.selectors import payment_get

    wanted = [
        name for name in dict.fromkeys(event_types) if _subscribed(payment.organization_id, name)
    ]
    if not wanted:
        return
    data = render_payment(payment_get(organization=payment.organization_id, pk=payment.pk))
    for event_type in wanted:
        event_emit(organization_id=payment.organization_id, event_type=event_type, data=data)


# --- creating ---------------------------------------------------------------------------------


def _existing_conflict(organization, external_payment_id: str) -> Conflict | None:
    existing = (
        Payment.objects.for_org(organization)
        .filter(external_payment_id=external_payment_id)
        .values_list("pk", flat=True)
        .first()
    )
    if existing is None:
        return None
    return Conflict(
        f"A payment with external_payment_id {external_payment_id!r} already exists.",
        fields={"external_payment_id": ["A payment with this external ID already exists."]},
        extra={"existing_id": str(existing)},
    )


@transaction.atomic
def payment_create(
    *,
    organization,
    amount: Decimal,
    payment_date: date,
    payment_method: str = "",
    payer_name: str = "",
    payer_reference: str = "",
    external_payment_id: str = "",
    notes: str = "",
    currency: str = "",
    bank_account: str = "",
) -> Payment:
    """Record one received payment (unmatched). A second payment with the same
    ``external_payment_id`` in the organization is a 409 carrying ``existing_id``."""
    if amount is None or amount <= 0:
        raise ValidationFailed(
            "amount must be greater than zero.", fields={"amount": ["Must be greater than zero."]}
        )
    external_payment_id = (external_payment_id or "").strip()
    if external_payment_id:
        conflict = _existing_conflict(organization, external_payment_id)
        if conflict:
            raise conflict
    payment = Payment(
        organization=organization,
        amount=amount,
        payment_date=payment_date,
        payment_method=payment_method or "",
        payer_name=payer_name or "",
        payer_reference=payer_reference or "",
        external_payment_id=external_payment_id,
        notes=notes or "",
        currency=(currency or organization.currency or "").upper(),
        bank_account=bank_account or "",
        source=Payment.Source.API,
    )
    try:
        with transaction.atomic():
            payment.save(force_insert=True)
    except IntegrityError:
        conflict = _existing_conflict(organization, external_payment_id)
        if conflict:
            raise conflict from None
        raise
    _emit(payment, ["payment.imported"])
    return payment


# --- applying money ---------------------------------------------------------------------------


@dataclass(frozen=True)
class AllocationSpec:
    """Apply ``amount`` (None: as much as the invoice's open balance takes) to the invoice."""

    invoice_id: object
    amount: Decimal | None
    field: str  # the request field to name in errors


def _active_allocations(payment: Payment) -> list[PaymentAllocation]:
    return list(
        PaymentAllocation.objects.filter(payment=payment, unapplied_at__isnull=True)
        .select_related("journal_entry", "write_off_entry")
        .order_by("invoice_id")
    )


def _lock_invoices(payment: Payment, active, extra_ids=()) -> dict:
    ids = {allocation.invoice_id for allocation in active} | {i for i in extra_ids if i}
    locked = invoice_locks.invoices_for_update(payment.organization_id, list(ids))
    return {invoice.pk: invoice for invoice in locked}


def _customer_of(invoice: Invoice):
    return invoice.customer


def _money_event(
    payment: Payment, change_type: str, amount: Decimal, invoice: Invoice, payload: dict
) -> list:
    """Tell the receivers (accounting changes) that money moved; what they recorded."""
    return hooks.dispatch(
        hooks.MoneyMoved(
            organization=payment.organization,
            change_type=change_type,
            amount=amount,
            invoice=invoice,
            customer=_customer_of(invoice),
            payment=payment,
            payload={
                "payment_id": str(payment.pk),
                "invoice_id": str(invoice.pk),
                "invoice_number": invoice.invoice_number,
                "customer_id": str(invoice.customer_id),
                "payment_date": payment.payment_date.isoformat(),
                **payload,
            },
        )
    )


def _entry_payload(entry) -> dict:
    lines = [
        {
            "account_number": line.account.account_number,
            "account_name": line.account.name,
            "fund_id": line.fund_id,
            "debit": str(line.debit),
            "credit": str(line.credit),
        }
        for line in entry.lines.select_related("account").order_by("id")
    ]
    return {"journal_entry_id": str(entry.pk), "date": entry.date.isoformat(), "lines": lines}


def _allocation_apply(
    payment: Payment, invoice: Invoice, amount: Decimal, *, applied_by: str, field: str
) -> PaymentAllocation:
    entry = invoice_apply_payment(
        invoice=invoice,
        amount=amount,
        received_date=payment.payment_date,
        source="payment",
        memo=f"Payment from {payment.payer_name or 'unknown payer'} applied to invoice "
        f"{invoice.invoice_number}",
        field_name=field,
    )
    allocation = PaymentAllocation.objects.create(
        organization_id=payment.organization_id,
        payment=payment,
        invoice=invoice,
        amount=amount,
        applied_by=applied_by,
        journal_entry=entry,
    )
    payment.applied_amount += amount
    _money_event(
        payment,
        "payment_applied",
        amount,
        invoice,
        {
            "allocation_id": str(allocation.pk),
            "applied_by": applied_by,
            **_entry_payload(entry),
        },
    )
    return allocation


def _allocation_unapply(
    payment: Payment,
    allocation: PaymentAllocation,
    invoice: Invoice,
    *,
    by_clerk: bool,
    reason: str = "",
) -> list:
    """Undo one allocation; what the money-event receivers recorded for it."""
    reversal = invoice_unapply_payment(
        invoice=invoice,
        entry=allocation.journal_entry,
        source="payment",
        memo=f"Payment from {payment.payer_name or 'unknown payer'} unapplied from invoice "
        f"{invoice.invoice_number}",
    )
    payload = {"allocation_id": str(allocation.pk), "reason": reason, **_entry_payload(reversal)}
    if allocation.write_off_entry_id:
        write_off_reversal = invoice_unapply_payment(
            invoice=invoice,
            entry=allocation.write_off_entry,
            source="write_off",
            memo=f"Write-off on invoice {invoice.invoice_number} reversed",
        )
        payload["write_off_reversed"] = str(allocation.write_off_amount)
        payload["write_off_reversal"] = _entry_payload(write_off_reversal)
    allocation.unapplied_at = timezone.now()
    allocation.unapplied_by_clerk = by_clerk
    allocation.unapply_reason = reason[:500]
    allocation.save(
        update_fields=["unapplied_at", "unapplied_by_clerk", "unapply_reason", "updated_at"]
    )
    payment.applied_amount -= allocation.amount
    payment.written_off_amount -= allocation.write_off_amount
    if by_clerk:
        payment.unapplied_by_clerk = True
    return _money_event(payment, "payment_unapplied", allocation.amount, invoice, payload)


def _save_money(payment: Payment) -> None:
    payment.status = payment.derived_status()
    payment.save(
        update_fields=[
            "applied_amount",
            "written_off_amount",
            "status",
            "auto_applied",
            "unapplied_by_clerk",
            "updated_at",
        ]
    )


def _organization_currency(organization) -> str:
    """The organization's currency (the invoices' currency until invoices carry their own)."""
    currency = getattr(organization, "currency", None)
    if currency is None:
        from arpilot.models import Organization

        currency = Organization.objects.values_list("currency", flat=True).get(
            pk=getattr(organization, "pk", organization)
        )
    return (currency or "").upper()


def payment_currency_mismatch(payment: Payment, organization_currency: str) -> str:
    """Why the payment cannot be applied to the organization's invoices ("" when it can).

    Invoices are in the organization's currency; a payment applies only to invoices of its
    own currency (an empty payment currency is the organization's)."""
    invoices_in = (organization_currency or "").upper()
    paid_in = (payment.currency or "").upper() or invoices_in
    if paid_in == invoices_in:
        return ""
    return (
        f"This payment is in {paid_in}; invoices are in {invoices_in}. "
        "A payment applies only to invoices of its own currency."
    )


def _check_currency(payment: Payment, organization, field: str) -> None:
    """Refuse to apply a payment to invoices of another currency (a 400 naming ``field``)."""
    reason = payment_currency_mismatch(payment, _organization_currency(organization))
    if reason:
        raise ValidationFailed(reason, fields={field: [reason]})


def _check_invoice(invoice: Invoice | None, field: str) -> Invoice:
    if invoice is None:
        raise ValidationFailed("Unknown invoice.", fields={field: ["Unknown invoice."]})
    if invoice.status in (Invoice.Status.DRAFT, Invoice.Status.VOID):
        raise ValidationFailed(
            f"Invoice {invoice.invoice_number} is {invoice.status}; money cannot be applied to it.",
            fields={field: [f"The invoice is {invoice.status}."]},
        )
    return invoice


def _resolve_targets(payment: Payment, specs: list[AllocationSpec], active, invoices) -> dict:
    """{invoice_pk: amount} the payment should end up applied with."""
    held = {allocation.invoice_id: allocation for allocation in active}
    targets: dict = {}
    explicit_total = ZERO
    for spec in specs:
        invoice = _check_invoice(invoices.get(spec.invoice_id), spec.field)
        if invoice.pk in targets:
            raise ValidationFailed(
                f"Invoice {invoice.invoice_number} is listed twice.",
                fields={spec.field: ["Each invoice may appear once."]},
            )
        mine = held.get(invoice.pk)
        available = invoice.amount_due + (mine.amount + mine.write_off_amount if mine else ZERO)
        if spec.amount is None:
            amount = min(payment.amount, available)
            if amount <= 0:
                raise ValidationFailed(
                    f"Invoice {invoice.invoice_number} has no open balance.",
                    fields={spec.field: ["The invoice has no open balance."]},
                )
        else:
            amount = spec.amount
            amount_field = spec.field.rsplit(".", 1)[0] + ".amount"
            if amount <= 0:
                raise ValidationFailed(
                    "Allocation amounts must be greater than zero.",
                    fields={amount_field: ["Must be greater than zero."]},
                )
            if amount > available:
                raise ValidationFailed(
                    f"{amount} exceeds the open balance of invoice {invoice.invoice_number} "
                    f"({available}).",
                    fields={amount_field: [f"Exceeds the invoice's open balance ({available})."]},
                )
            explicit_total += amount
        targets[invoice.pk] = amount
    if explicit_total > payment.amount:
        raise ValidationFailed(
            f"The allocations total {explicit_total}, more than the payment's {payment.amount}.",
            fields={"allocations": [f"The total exceeds the payment amount ({payment.amount})."]},
        )
    return targets


def _allocations_set(
    payment: Payment,
    targets: dict,
    active,
    invoices,
    *,
    applied_by: str,
    fields: dict,
    reason: str = "",
) -> bool:
    """Make the payment's active allocations equal ``targets``; True if anything changed."""
    changed = False
    kept = set()
    for allocation in active:
        target = targets.get(allocation.invoice_id)
        if target is not None and target == allocation.amount:
            kept.add(allocation.invoice_id)
            continue
        _allocation_unapply(
            payment,
            allocation,
            invoices[allocation.invoice_id],
            by_clerk=applied_by == PaymentAllocation.AppliedBy.CLERK,
            reason=reason,
        )
        changed = True
    for invoice_id, amount in targets.items():
        if invoice_id in kept:
            continue
        _allocation_apply(
            payment, invoices[invoice_id], amount, applied_by=applied_by, field=fields[invoice_id]
        )
        changed = True
    return changed


def _write_off_short(payment: Payment, invoices: dict, tolerance: Decimal) -> bool:
    """Write off what the payment's invoices still owe, if within ``tolerance`` in total."""
    field = "write_off_short_payment"
    if payment.unapplied_amount > 0:
        raise ValidationFailed(
            f"The payment still has {payment.unapplied_amount} unapplied; a short-payment is "
            "written off only once all of the payment is applied.",
            fields={field: [f"{payment.unapplied_amount} of the payment is still unapplied."]},
        )
    active = _active_allocations(payment)
    short = [
        (allocation, invoices[allocation.invoice_id])
        for allocation in active
        if allocation.write_off_entry_id is None
        and invoices[allocation.invoice_id].amount_due > 0
        and invoices[allocation.invoice_id].status in Invoice.OPEN_STATUSES
    ]
    total = sum((invoice.amount_due for _, invoice in short), ZERO)
    if not short:
        return False
    if total > tolerance:
        raise ValidationFailed(
            f"The short-payment of {total} exceeds the write-off tolerance of {tolerance}.",
            fields={field: [f"Short by {total}; at most {tolerance} may be written off."]},
        )
    account = _write_off_account(payment.organization_id)
    for allocation, invoice in short:
        amount = invoice.amount_due
        entry = invoice_apply_payment(
            invoice=invoice,
            amount=amount,
            received_date=timezone.localdate(),
            cash_account=account,
            source="write_off",
            memo=f"Short-payment on invoice {invoice.invoice_number} written off",
            field_name=field,
        )
        allocation.write_off_amount = amount
        allocation.write_off_entry = entry
        allocation.save(update_fields=["write_off_amount", "write_off_entry", "updated_at"])
        payment.written_off_amount += amount
        _money_event(
            payment,
            "write_off",
            amount,
            invoice,
            {
                "allocation_id": str(allocation.pk),
                "write_off_account_number": account.account_number,
                **_entry_payload(entry),
            },
        )
    return True


def _history_record(payment: Payment, customer_ids) -> None:
    """Remember that a clerk matched this payer to these customers (matching evidence)."""
    from payments.matching import name_form

    key = name_form(payment.payer_name).full[:255] if payment.payer_name else ""
    if not key:
        return
    for customer_id in sorted(set(customer_ids), key=str):
        updated = PayerCustomerHistory.objects.filter(
            organization_id=payment.organization_id, payer_key=key, customer_id=customer_id
        ).update(count=F("count") + 1, updated_at=timezone.now())
        if updated:
            continue
        try:
            with transaction.atomic():
                PayerCustomerHistory.objects.create(
                    organization_id=payment.organization_id,
                    payer_key=key,
                    customer_id=customer_id,
                    count=1,
                )
        except IntegrityError:
            PayerCustomerHistory.objects.filter(
                organization_id=payment.organization_id, payer_key=key, customer_id=customer_id
            ).update(count=F("count") + 1, updated_at=timezone.now())


def _set_reviewed(payment: Payment, reviewed: bool) -> bool:
    if payment.reviewed == reviewed:
        return False
    payment.reviewed = reviewed
    payment.reviewed_at = timezone.now() if reviewed else None
    payment.save(update_fields=["reviewed", "reviewed_at", "updated_at"])
    if reviewed:
        hooks.dispatch(hooks.PaymentReviewed(organization=payment.organization, payment=payment))
    return True


@transaction.atomic
def payment_update(
    *,
    organization,
    payment_id,
    changes: dict | None = None,
    invoice_id=_UNSET,
    allocations: list[dict] | None = None,
    write_off_short_payment: bool = False,
    reviewed: bool | None = None,
) -> Payment:
    """A clerk's partial update of a payment.

    ``changes``: payer_name, payer_reference, notes. ``invoice_id`` applies the payment to
    that one invoice (as much as its open balance takes, replacing other allocations; None
    unapplies all). ``allocations`` ([{invoice_id, amount}]) sets the whole spread (``[]``
    unapplies all). ``write_off_short_payment`` writes off what its invoices still owe when
    that is within the organization's tolerance. ``reviewed`` marks it (un)reviewed.
    """
    if invoice_id is not _UNSET and allocations is not None:
        raise ValidationFailed(
            "Send invoice_id or allocations, not both.",
            fields={"allocations": ["Cannot be combined with invoice_id."]},
        )
    payment = lock_objects.payment_for_update(organization, payment_id)
    changes = changes or {}
    dirty = [
        name
        for name in ("payer_name", "payer_reference", "notes")
        if name in changes and changes[name] != getattr(payment, name)
    ]
    for name in dirty:
        setattr(payment, name, changes[name] or "")
    if dirty:
        payment.save(update_fields=[*dirty, "updated_at"])

    specs: list[AllocationSpec] | None = None
    if invoice_id is not _UNSET:
        specs = [] if invoice_id is None else [AllocationSpec(invoice_id, None, "invoice_id")]
    elif allocations is not None:
        specs = [
            AllocationSpec(item["invoice_id"], item["amount"], f"allocations.{index}.invoice_id")
            for index, item in enumerate(allocations)
        ]

    if specs:  # applying money (unapplying all is always allowed)
        _check_currency(
            payment, organization, "invoice_id" if invoice_id is not _UNSET else "allocations"
        )
    if write_off_short_payment:
        _check_currency(payment, organization, "write_off_short_payment")

    events: list[str] = []
    if specs is not None or write_off_short_payment:
        active = _active_allocations(payment)
        invoices = _lock_invoices(payment, active, [spec.invoice_id for spec in specs or []])
        if specs is not None:
            before = {allocation.invoice_id for allocation in active}
            targets = _resolve_targets(payment, specs, active, invoices)
            fields = {invoices[spec.invoice_id].pk: spec.field for spec in specs}
            had_money = payment.applied_amount > 0
            if _allocations_set(
                payment,
                targets,
                active,
                invoices,
                applied_by=PaymentAllocation.AppliedBy.CLERK,
                fields=fields,
                reason="changed by a clerk",
            ):
                payment.auto_applied = False
                if had_money:
                    events.append("payment.unapplied")
                if targets:
                    events.append("payment.applied")
                new_customers = {invoices[pk].customer_id for pk in targets if pk not in before}
                _history_record(payment, new_customers)
        if write_off_short_payment:
            tolerance = payment_settings_get(organization=organization).write_off_tolerance
            if _write_off_short(payment, invoices, tolerance):
                events.append("payment.applied")
        _save_money(payment)
    if reviewed is not None and _set_reviewed(payment, reviewed) and reviewed:
        events.append("payment.reviewed")
    _emit(payment, events)
    return payment


@transaction.atomic
@dataclass(frozen=True)
class Unapplied:
    """What ``payment_unapply`` reversed: the allocations, and what the money-event receivers
    recorded for them (the accounting changes), so a caller never has to look for them."""

    payment: Payment
    allocations: list
    recorded: list


def payment_unapply(
    *, organization, payment_id, invoice_id=None, by_clerk: bool, reason: str = ""
) -> Unapplied:
    """Take the payment's money back from its invoices (or from ``invoice_id`` only).

    Nothing to unapply is not an error. ``by_clerk`` marks the payment as one matching must
    never auto-apply again.
    """
    payment = lock_objects.payment_for_update(organization, payment_id)
    active = [
        allocation
        for allocation in _active_allocations(payment)
        if invoice_id is None or str(allocation.invoice_id) == str(invoice_id)
    ]
    if not active:
        return Unapplied(payment=payment, allocations=[], recorded=[])
    invoices = _lock_invoices(payment, active)
    recorded = []
    for allocation in active:
        recorded += _allocation_unapply(
            payment, allocation, invoices[allocation.invoice_id], by_clerk=by_clerk, reason=reason
        )
    if by_clerk:
        payment.auto_applied = False
    _save_money(payment)
    _emit(payment, ["payment.unapplied"])
    return Unapplied(payment=payment, allocations=active, recorded=recorded)


@transaction.atomic
def payment_mark_reviewed(*, organization, payment_id, reviewed: bool) -> Payment:
    """Mark the payment reviewed (calling ``ARPILOT_PAYMENT_REVIEWED_HANDLERS``) or not."""
    payment = lock_objects.payment_for_update(organization, payment_id)
    if _set_reviewed(payment, reviewed) and reviewed:
        _emit(payment, ["payment.reviewed"])
    return payment


@transaction.atomic
def payment_auto_apply(*, organization, payment_id, invoice_ids, amount: Decimal) -> bool:
    """Apply a matching suggestion without a clerk, if it still fits; True when applied.

    The payment must still be unmatched and never unapplied by a clerk; ``amount`` is spread
    over ``invoice_ids`` in the given order, each up to its open balance.
    """
    payment = lock_objects.payment_for_update(organization, payment_id)
    if payment.status != Payment.Status.UNMATCHED or payment.unapplied_by_clerk:
        return False
    if amount <= 0 or amount > payment.amount:
        return False
    if payment_currency_mismatch(payment, _organization_currency(organization)):
        return False
    invoices = _lock_invoices(payment, [], invoice_ids)
    plan = []
    remaining = amount
    for invoice_id in invoice_ids:
        invoice = invoices.get(invoice_id)
        if invoice is None or invoice.status not in Invoice.OPEN_STATUSES:
            return False
        share = min(remaining, invoice.amount_due)
        if share <= 0:
            return False
        plan.append((invoice, share))
        remaining -= share
    if remaining > 0:
        return False
    for invoice, share in plan:
        _allocation_apply(
            payment, invoice, share, applied_by=PaymentAllocation.AppliedBy.AUTO, field="invoice_id"
        )
    payment.auto_applied = True
    _save_money(payment)
    _emit(payment, ["payment.applied"])
    return True


# --- matching ---------------------------------------------------------------------------------

MATCH_BATCH = 10_000
# Payments ranked per worker job; their rows come back built, ready to store.
MATCH_CHUNK = 2_000
SUGGESTIONS_KEPT = 5
# POST /payments matches the new payment inline when the organization has at most this many
# open invoices (building the index is then quick); larger books are matched by the task.
MATCH_INLINE_MAX_OPEN_INVOICES = 20_000


def _open_invoices(organization):
    from customers.models import Contact
    from payments.matching import OpenInvoice

    rows = list(
        Invoice.objects.for_org(organization)
        .open()
        .filter(amount_due__gt=0)
        .order_by()
        .values_list(
            "id",
            "invoice_number",
            "customer_id",
            "customer__company_name",
            "customer__external_id",
            "amount_due",
            "issue_date",
            "due_date",
        )
    )
    contacts: dict = {}
    for customer_id, name in (
        Contact.objects.for_org(organization).order_by().values_list("customer_id", "contact_name")
    ):
        contacts.setdefault(customer_id, []).append(name)
    empty = ()
    frozen = {customer_id: tuple(names) for customer_id, names in contacts.items()}
    return [
        OpenInvoice(
            id=pk,
            invoice_number=number,
            customer_id=customer_id,
            customer_name=company,
            customer_external_id=external or None,
            contact_names=frozen.get(customer_id, empty),
            open_balance=due,
            issue_date=issued,
            due_date=due_date,
        )
        for pk, number, customer_id, company, external, due, issued, due_date in rows
    ]


def _payer_history(organization):
    from collections import Counter

    from payments.matching import PayerHistory

    history = PayerHistory()
    for key, customer_id, count in (
        PayerCustomerHistory.objects.for_org(organization)
        .order_by()
        .values_list("payer_key", "customer_id", "count")
    ):
        history.counts.setdefault(key, Counter())[customer_id] += count
    return history


def _suggestions_store(
    organization_id: int, payment_ids: list, rows: list[tuple] = (), *, copy_text: str = ""
) -> None:
    """Replace the suggestions of ``payment_ids`` with ``rows``, or on PostgreSQL with
    ``copy_text`` (rows as ``_suggestions_copy_text`` writes them) by COPY."""
    if connection.vendor == "postgresql":
        # IN (SELECT unnest(…)) is planned as index lookups per id; "= ANY(array)" of
        # thousands of ids was planned as a sequential scan of every organization's rows.
        with connection.cursor() as cursor:
            cursor.execute(
                f"DELETE FROM {MatchSuggestion._meta.db_table} "  # noqa: S608
                "WHERE payment_id IN (SELECT unnest(%s::uuid[]))",
                [list(payment_ids)],
            )
        if rows:
            copy_text += _suggestions_copy_text(organization_id, rows, timezone.now().isoformat())
        if copy_text:
            _suggestions_copy(copy_text)
        return
    MatchSuggestion.objects.filter(payment_id__in=payment_ids).delete()
    MatchSuggestion.objects.bulk_create(
        MatchSuggestion(
            organization_id=organization_id,
            payment_id=payment_id,
            rank=rank,
            invoice_ids=invoice_ids,
            invoice_numbers=numbers,
            amount=amount,
            score=score,
            reasons=reasons,
        )
        for payment_id, rank, invoice_ids, numbers, amount, score, reasons in rows
    )


def _copy_json(value) -> str:
    """JSON as a COPY text field: JSON escapes control characters, so only its backslashes
    need escaping again."""
    return orjson.dumps(value).decode().replace("\\", "\\\\")


def _uuid_array(ids: list[str]) -> str:
    return '["' + '", "'.join(ids) + '"]' if ids else "[]"


_SUGGESTION_COLUMNS = (
    "organization_id",
    "payment_id",
    "rank",
    "invoice_ids",
    "invoice_numbers",
    "amount",
    "score",
    "reasons",
    "created_at",
)


def _suggestions_copy_text(organization_id: int, rows: list[tuple], stamp: str) -> str:
    """Suggestion rows as COPY text, in ``_SUGGESTION_COLUMNS`` order."""
    # Invoice ids are UUID strings: their JSON array needs no encoder.
    return "".join(
        f"{organization_id}\t{payment_id}\t{rank}\t{_uuid_array(invoice_ids)}\t"
        f"{_copy_json(numbers)}\t{amount}\t{score!r}\t{_copy_json(reasons)}\t{stamp}\n"
        for payment_id, rank, invoice_ids, numbers, amount, score, reasons in rows
    )


def _suggestions_copy(text: str) -> None:
    table = MatchSuggestion._meta.db_table
    sql = f"COPY {table} ({', '.join(_SUGGESTION_COLUMNS)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        copy.write(text)


@dataclass
class MatchRun:
    payments: int = 0
    suggestions: int = 0
    auto_applied: int = 0
    seconds: dict = field(default_factory=dict)  # per phase: read, index, rank, store, apply


def payments_match(
    *,
    organization,
    payment_ids=None,
    today: date | None = None,
    batch_size: int = MATCH_BATCH,
    auto_apply: bool | None = None,
    workers: int | None = None,
) -> MatchRun:
    """Rank suggestions for the organization's unmatched payments (or those of
    ``payment_ids``), store them, and auto-apply the unambiguous ones.

    Open invoices, contacts, payer history and the payments are read once with values()
    queries and indexed; suggestions are computed (in forked workers for large runs) and
    written in batches, each batch its own transaction. Auto-apply needs: the setting on,
    score ≥ threshold and ahead of the next by the margin, a payment younger than the age
    limit, never unapplied by a clerk; each auto-application re-checks the balances under
    its locks.
    """
    org_id = getattr(organization, "pk", organization)
    options = payment_settings_get(organization=org_id)
    if auto_apply is None:
        auto_apply = options.auto_apply_enabled
    today = today or timezone.localdate()
    clock = time.perf_counter()

    def lap(phase: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        run.seconds[phase] = round(run.seconds.get(phase, 0.0) + now - clock, 3)
        clock = now

    run = MatchRun()
    # Reading, indexing, ranking and storing make millions of long-lived objects with few
    # cycles: the collector stays off meanwhile. Its full collections walked them again and
    # again (a third of the store phase, growing faster than the run), and in forked
    # workers they would copy the pages they touch. Everything big is gone with
    # ``_match_rank_and_store``'s frame before it is switched on again.
    with _collector_paused():
        decisions = _match_rank_and_store(
            org_id, payment_ids, options, auto_apply, today, batch_size, workers, run, lap
        )
    for pk, suggestion in decisions:
        if payment_auto_apply(
            organization=org_id,
            payment_id=pk,
            invoice_ids=list(suggestion.invoice_ids),
            amount=suggestion.amount,
        ):
            run.auto_applied += 1
    lap("apply")
    return run


@contextmanager
def _collector_paused():
    """The cyclic garbage collector off for a bulk job that makes hundreds of thousands of
    long-lived objects with few cycles: each full collection would walk them all again.
    Reference counting still frees everything as usual."""
    collecting = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if collecting:
            gc.enable()


def _match_rank_and_store(
    org_id, payment_ids, options, auto_apply, today, batch_size, workers, run, lap
) -> list:
    """Read, index, rank and store; return the (payment id, suggestion) to auto-apply."""
    from payments.matching import MatchIndex, PaymentInput, decide
    from payments.matching.parallel import suggest_chunks

    candidates = Payment.objects.for_org(org_id).unmatched().order_by("pk")
    if payment_ids is not None:
        candidates = candidates.filter(pk__in=list(payment_ids))
    payments = [
        PaymentInput(
            id=pk,
            amount=amount,
            payment_date=paid_on,
            payer_name=payer,
            reference=reference,
            notes=notes,
            currency=currency or None,
        )
        for pk, amount, paid_on, payer, reference, notes, currency in candidates.values_list(
            "pk", "amount", "payment_date", "payer_name", "payer_reference", "notes", "currency"
        )
    ]
    run.payments = len(payments)
    if not payments:
        return []
    unapplied_before = set(candidates.filter(unapplied_by_clerk=True).values_list("pk", flat=True))
    # Invoices are in the organization's currency: the engine suggests nothing for a
    # payment in another one (so nothing is auto-applied), and its old suggestions go.
    invoice_currency = _organization_currency(org_id)
    invoices = _open_invoices(org_id)
    history = _payer_history(org_id)
    lap("read")
    numbers = {invoice.id: invoice.invoice_number for invoice in invoices}
    index = MatchIndex.build(
        invoices,
        history,
        short_pay_absolute=options.write_off_tolerance,
        currency=invoice_currency,
    )
    del invoices
    lap("index")
    copy = connection.vendor == "postgresql"
    stamp = timezone.now().isoformat()

    def finish(start: int, end: int, ranked: list) -> tuple:
        """A chunk's rows to store (as COPY text on PostgreSQL) and auto-apply decisions;
        runs in the ranking worker."""
        rows, decisions = [], []
        for payment, suggestions in zip(payments[start:end], ranked, strict=True):
            for rank, suggestion in enumerate(suggestions, start=1):
                rows.append(
                    (
                        payment.id,
                        rank,
                        [str(pk) for pk in suggestion.invoice_ids],
                        [numbers[pk] for pk in suggestion.invoice_ids],
                        suggestion.amount,
                        min(max(float(suggestion.score), 0.0), 1.0),
                        list(suggestion.reasons),
                    )
                )
            if auto_apply and suggestions:
                decision = decide(
                    payment,
                    suggestions,
                    threshold=float(options.auto_apply_threshold),
                    margin=float(options.auto_apply_margin),
                    max_age_days=options.auto_apply_max_age_days,
                    today=today,
                    previously_unapplied=payment.id in unapplied_before,
                )
                if decision.apply:
                    decisions.append((payment.id, decision.suggestion))
        count = len(rows)
        return (_suggestions_copy_text(org_id, rows, stamp) if copy else rows), count, decisions

    decisions: list = []
    pending: list = []  # chunks ranked and not yet stored: (start, end, rows or text)

    def store() -> None:
        ids = [payment.id for start, end, _ in pending for payment in payments[start:end]]
        with transaction.atomic():
            lock_objects.matching_store_lock(org_id)
            if copy:
                _suggestions_store(org_id, ids, copy_text="".join(rows for *_, rows in pending))
            else:
                _suggestions_store(org_id, ids, [row for *_, rows in pending for row in rows])
        pending.clear()

    # Stored in transactions of ``batch_size`` payments while the workers rank the next.
    chunk_size = min(batch_size, MATCH_CHUNK)
    chunks = suggest_chunks(
        index,
        payments,
        limit=SUGGESTIONS_KEPT,
        workers=workers,
        chunk_size=chunk_size,
        finish=finish,
    )
    start = 0
    for rows, count, chunk_decisions in chunks:
        lap("rank")
        end = min(start + chunk_size, len(payments))
        pending.append((start, end, rows))
        decisions += chunk_decisions
        run.suggestions += count
        if end - pending[0][0] >= batch_size or end == len(payments):
            store()
        start = end
        lap("store")
    return decisions


def payments_match_soon(*, organization, payment_ids: list) -> None:
    """Match just-created payments: inline for a small book, else by the task after commit."""
    from payments import tasks

    org_id = getattr(organization, "pk", organization)
    open_count = Invoice.objects.for_org(org_id).open().count()
    if open_count <= MATCH_INLINE_MAX_OPEN_INVOICES:
        payments_match(organization=org_id, payment_ids=payment_ids)
        return
    ids = [str(pk) for pk in payment_ids]
    transaction.on_commit(
        lambda: _send(tasks.payments_match_task, args=[org_id], kwargs={"payment_ids": ids})
    )


def _send(task, **options) -> None:
    """Queue a task; if the broker is away, log it (imports are swept up again later)."""
    from kombu.exceptions import OperationalError

    try:
        task.apply_async(retry=False, **options)
    except (OperationalError, OSError) as exc:
        logger.warning("%s not queued (%s)", task.name, exc)


# --- file imports -----------------------------------------------------------------------------

IMPORT_BATCH = 20_000
# Files up to this size are parsed during the upload too, so an unreadable one is a 400 at
# once; larger ones are only sniffed, and a failure shows on the import (status "failed").
SYNC_PARSE_MAX_BYTES = 2 * 1024 * 1024
# A "running" import whose worker has been silent this long is taken over by a new task.
IMPORT_STALE_AFTER = 600


def _csv_mapping(raw: dict | None):
    from payments.importers import CsvMapping

    if not raw:
        return None
    values = dict(raw)
    if isinstance(values.get("reference"), list):
        values["reference"] = tuple(values["reference"])
    return CsvMapping(**values)


@transaction.atomic
def payment_import_create(
    *, organization, filename: str, data: bytes, csv_mapping: dict | None = None
):
    """Store an uploaded bank file and queue its import (400 for a file that is not one)."""
    from payments import importers, tasks
    from payments.models import PaymentImport

    if not data or not data.strip():
        raise ValidationFailed("The file is empty.", fields={"file": ["The file is empty."]})
    mapping = _csv_mapping(csv_mapping)
    fmt = importers.detect_format(data)
    if fmt is None and mapping is None:
        raise ValidationFailed(
            f"The file is not a bank file: {importers.NOT_A_BANK_FILE}.",
            fields={
                "file": [
                    importers.NOT_A_BANK_FILE[:1].upper() + importers.NOT_A_BANK_FILE[1:] + "."
                ]
            },
        )
    if len(data) <= SYNC_PARSE_MAX_BYTES:
        try:
            importers.parse(data, fmt=fmt, csv_mapping=mapping)
        except importers.ImportFileError as exc:
            fields = {"file": [exc.message]}
            if mapping is not None:
                fields["mapping"] = [exc.message]
            raise ValidationFailed(
                f"The file cannot be imported: {exc.message}.", fields=fields
            ) from None
        except Exception:  # a parser bug on odd input: still the upload's fault, not a 500
            logger.exception("bank file %r could not be parsed", filename)
            message = "the file could not be read as a bank file"
            raise ValidationFailed(
                f"The file cannot be imported: {message}.", fields={"file": [message]}
            ) from None
    payment_import = PaymentImport.objects.create(
        organization=organization,
        filename=(filename or "")[:255],
        file_size=len(data),
        data=zlib.compress(data, 1),
        format=fmt or importers.FORMATS[0],
        csv_mapping=csv_mapping or None,
    )
    import_id = str(payment_import.pk)
    transaction.on_commit(lambda: _send(tasks.payment_import_task, args=[import_id]))
    return payment_import


def _import_claim(import_id):
    """Mark the import running; None if it is finished or another worker is on it."""
    from payments.models import PaymentImport

    with transaction.atomic():
        payment_import = lock_objects.payment_import_for_update(import_id)
        if payment_import is None or payment_import.status in (
            PaymentImport.Status.DONE,
            PaymentImport.Status.FAILED,
        ):
            return None
        now = timezone.now()
        if (
            payment_import.status == PaymentImport.Status.RUNNING
            and payment_import.updated_at
            and (now - payment_import.updated_at).total_seconds() < IMPORT_STALE_AFTER
        ):
            return None
        payment_import.status = PaymentImport.Status.RUNNING
        payment_import.started_at = payment_import.started_at or now
        payment_import.save(update_fields=["status", "started_at", "updated_at"])
        return payment_import


# The columns of an imported payment that differ from row to row, in this order; the others
# (organization, timestamps, status, import…) are the same for the whole file.
IMPORT_COLUMNS = (
    "id",
    "amount",
    "payment_date",
    "payment_method",
    "payer_name",
    "payer_reference",
    "external_payment_id",
    "currency",
    "bank_account",
    "line_number",
    "fingerprint",
)
_EXTERNAL_ID = IMPORT_COLUMNS.index("external_payment_id")
_FINGERPRINT = IMPORT_COLUMNS.index("fingerprint")


def _uuid4_texts(count: int) -> list[str]:
    """``count`` random (version 4) UUIDs as text, for COPY: one urandom call instead of a
    ``uuid.UUID`` object per row (a tenth of an import's Python time at 100k rows)."""
    raw = bytearray(os.urandom(16 * count))
    for offset in range(0, 16 * count, 16):
        raw[offset + 6] = (raw[offset + 6] & 0x0F) | 0x40
        raw[offset + 8] = (raw[offset + 8] & 0x3F) | 0x80
    text = raw.hex()
    return [
        f"{text[i : i + 8]}-{text[i + 8 : i + 12]}-{text[i + 12 : i + 16]}-"
        f"{text[i + 16 : i + 20]}-{text[i + 20 : i + 32]}"
        for i in range(0, 32 * count, 32)
    ]


def _import_shared(payment_import) -> tuple[dict, str]:
    """The values every payment of an import shares, and the organization's currency."""
    from arpilot.models import Organization

    organization_currency = Organization.objects.values_list("currency", flat=True).get(
        pk=payment_import.organization_id
    )
    now = timezone.now()
    shared = {
        "organization_id": payment_import.organization_id,
        "created_at": now,
        "updated_at": now,
        "notes": "",
        "status": Payment.Status.UNMATCHED,
        "applied_amount": ZERO,
        "written_off_amount": ZERO,
        "reviewed": False,
        "reviewed_at": None,
        "auto_applied": False,
        "unapplied_by_clerk": False,
        "source": Payment.Source.IMPORT,
        "payment_import_id": payment_import.pk,
    }
    return shared, organization_currency or ""


def _import_row_tuples(
    transactions, *, file_currency: str, file_account: str, seen_prints: dict
) -> list[tuple]:
    """Credits as payment rows, one tuple each in ``IMPORT_COLUMNS`` order. A credit with a
    bank transaction id is keyed by it, one without by its fingerprint (numbered among
    themselves across the file through ``seen_prints``, so two identical ones are both
    kept)."""
    from payments.importers import fingerprints

    anonymous = [tx for tx in transactions if not (tx.bank_transaction_id or "").strip()]
    prints = dict(zip(map(id, anonymous), fingerprints(anonymous, seen_prints), strict=True))
    rows = []
    for tx, pk in zip(transactions, _uuid4_texts(len(transactions)), strict=True):
        bank_id = (tx.bank_transaction_id or "").strip()[:255]
        rows.append(
            (
                pk,
                tx.amount,
                tx.booking_date,
                (tx.payment_method or "")[:100],
                (tx.payer_name or "")[:255],
                (tx.reference or "")[:1000],
                bank_id,
                (tx.currency or file_currency)[:3].upper(),
                (tx.account or file_account)[:100],
                tx.line_number,
                "" if bank_id else prints[id(tx)],
            )
        )
    return rows


def _import_rows(payment_import, result) -> tuple[dict, list[tuple]]:
    """A whole parsed file's credits as payment rows, with the values they share."""
    shared, organization_currency = _import_shared(payment_import)
    rows = _import_row_tuples(
        result.transactions,
        file_currency=result.currency or organization_currency,
        file_account=result.account or "",
        seen_prints={},
    )
    return shared, rows


_COPY_ESCAPES = str.maketrans({"\\": "\\\\", "\t": "\\t", "\n": "\\n", "\r": "\\r", "\x00": ""})
_NULL = "\\N"


def _copy_text(value) -> str:
    """A value as a field of COPY's text format."""
    if value is None:
        return _NULL
    if value is True:
        return "t"
    if value is False:
        return "f"
    if isinstance(value, str):
        return value.translate(_COPY_ESCAPES)
    if isinstance(value, date):  # datetimes too
        return value.isoformat()
    return str(value)


def _payments_copy(table: str, shared: dict, rows: list[tuple]) -> None:
    """COPY imported payment rows into ``table`` (text format, built here in one go)."""
    fields = {field.attname: field.column for field in Payment._meta.concrete_fields}
    if set(fields) != set(shared) | set(IMPORT_COLUMNS):
        raise ImproperlyConfigured("Payment columns changed: update IMPORT_COLUMNS / shared.")
    names = [fields[name] for name in IMPORT_COLUMNS] + [fields[name] for name in shared]
    tail = "\t".join(_copy_text(value) for value in shared.values()) + "\n"
    escapes = _COPY_ESCAPES
    null = _NULL
    sql = f"COPY {table} ({', '.join(names)}) FROM STDIN"
    with connection.cursor() as cursor, cursor.cursor.copy(sql) as copy:
        # Written in chunks: the server stores one chunk while the next is formatted.
        for start in range(0, len(rows), 2000):
            copy.write(
                "".join(
                    f"{pk}\t{amount}\t{day.isoformat()}\t{method.translate(escapes)}\t"
                    f"{payer.translate(escapes)}\t{reference.translate(escapes)}\t"
                    f"{bank_id.translate(escapes)}\t{currency.translate(escapes)}\t"
                    f"{account.translate(escapes)}\t{null if line is None else line}\t"
                    f"{print_}\t{tail}"
                    for pk, amount, day, method, payer, reference, bank_id, currency, account, line, print_ in rows[
                        start : start + 2000
                    ]
                )
            )


def _new_rows(organization_id: int, rows: list[tuple]) -> list[tuple]:
    """The rows whose bank transaction id / fingerprint is neither stored nor earlier in
    the file."""
    table = Payment._meta.db_table
    ids = [row[_EXTERNAL_ID] for row in rows if row[_EXTERNAL_ID]]
    prints = [row[_FINGERPRINT] for row in rows if row[_FINGERPRINT]]
    taken_ids: set = set()
    taken_prints: set = set()
    with connection.cursor() as cursor:
        if ids:
            cursor.execute(
                f"SELECT external_payment_id FROM {table} WHERE organization_id = %s "  # noqa: S608
                "AND external_payment_id <> '' AND external_payment_id = ANY(%s)",
                [organization_id, ids],
            )
            taken_ids = {value for (value,) in cursor.fetchall()}
        if prints:
            cursor.execute(
                f"SELECT fingerprint FROM {table} WHERE organization_id = %s "  # noqa: S608
                "AND fingerprint <> '' AND fingerprint = ANY(%s)",
                [organization_id, prints],
            )
            taken_prints = {value for (value,) in cursor.fetchall()}
    fresh = []
    for row in rows:
        key_id, key_print = row[_EXTERNAL_ID], row[_FINGERPRINT]
        if (key_id and key_id in taken_ids) or (key_print and key_print in taken_prints):
            continue
        if key_id:
            taken_ids.add(key_id)
        if key_print:
            taken_prints.add(key_print)
        fresh.append(row)
    return fresh


def _relaxed_commit() -> None:
    """Let this transaction's commit return before its WAL reaches the disk.

    Safe for import batches: a crash can lose only the latest commits, in order, so an
    import whose rows were lost is not yet "done" and the sweeper runs it again (inserts
    are idempotent); the final "done" update commits durably, flushing all before it.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL synchronous_commit TO OFF")


def _insert_new_payments(shared: dict, rows: list[tuple]) -> None:
    """Insert rows whose bank transaction id / fingerprint is not taken yet; skip the others.

    On PostgreSQL the batch's keys are looked up and the new rows COPYed straight in; if a
    concurrent import of the same file wins a race for some row, the batch is written again
    through a staging table with ``ON CONFLICT DO NOTHING``.
    """
    if not rows:
        return
    if connection.vendor != "postgresql":
        Payment.objects.bulk_create(
            [Payment(**shared, **dict(zip(IMPORT_COLUMNS, row, strict=True))) for row in rows],
            ignore_conflicts=True,
            batch_size=500,
        )
        return
    import psycopg

    table = Payment._meta.db_table
    fresh = _new_rows(shared["organization_id"], rows)
    if not fresh:
        return
    try:
        with transaction.atomic():
            _payments_copy(table, shared, fresh)
        return
    except (IntegrityError, psycopg.IntegrityError):  # COPY runs on the raw psycopg cursor
        pass
    names = ", ".join(field.column for field in Payment._meta.concrete_fields)
    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TEMP TABLE IF NOT EXISTS payments_import_stage "
            f"(LIKE {table} INCLUDING DEFAULTS) ON COMMIT DELETE ROWS"
        )
    _payments_copy("payments_import_stage", shared, fresh)
    with connection.cursor() as cursor:
        cursor.execute(
            # Table and column names come from the model, never from input.
            f"INSERT INTO {table} ({names}) SELECT {names} FROM payments_import_stage "  # noqa: S608
            "ON CONFLICT DO NOTHING"
        )
        cursor.execute("DELETE FROM payments_import_stage")


def payment_import_run(*, import_id) -> None:
    """Import a stored bank file (the task's body): parse, skip what was imported before,
    insert the new payments in batches with progress, then queue their matching.

    Safe to run twice: payments are unique per organization by bank transaction id or
    fingerprint, and the counters are recomputed from the rows.
    """
    payment_import = _import_claim(import_id)
    if payment_import is None:
        return
    with _collector_paused():  # a file's rows: see _collector_paused
        _import_run(payment_import)


def _import_run(payment_import) -> None:
    from payments import importers, tasks
    from payments.models import PaymentImport

    import_id = payment_import.pk
    stored_file = bytes(payment_import.data)
    fmt = payment_import.format or None
    mapping = _csv_mapping(payment_import.csv_mapping)
    # The file is parsed in a thread (pure Python, no database) while this thread stores
    # what it has read so far: a CSV's credits appear in ``streamed`` row by row, and each
    # full batch is stored while the parse goes on, so the database works while Python
    # parses. (The other formats hand over their transactions when they are done.)
    streamed = importers.ParseResult(format=importers.FORMAT_CSV)
    outcome: dict = {}

    def parse() -> None:
        try:
            data = zlib.decompress(stored_file)
            outcome["result"] = importers.parse(data, fmt=fmt, csv_mapping=mapping, into=streamed)
        except Exception as exc:  # reported below, in the import's status
            outcome["error"] = exc

    parser = threading.Thread(target=parse, name=f"import-parse-{import_id}", daemon=True)
    parser.start()
    shared, organization_currency = _import_shared(payment_import)
    seen_prints: dict = {}
    progress = {"stored": 0}

    def store(transactions, *, file_currency: str, file_account: str, read: int) -> None:
        rows = _import_row_tuples(
            transactions,
            file_currency=file_currency,
            file_account=file_account,
            seen_prints=seen_prints,
        )
        progress["stored"] += len(rows)
        with transaction.atomic():
            _relaxed_commit()
            _insert_new_payments(shared, rows)
            PaymentImport.objects.filter(pk=import_id).update(
                processed=progress["stored"], total=read, updated_at=timezone.now()
            )

    # A CSV credit without a currency or account of its own has none from the file either:
    # ParseResult.currency/account are the one value every credit carried. So batches stored
    # before the parse ends get the organization's currency and no account, as they would
    # after it.
    consumed = 0
    while parser.is_alive():
        if len(streamed.transactions) - consumed >= IMPORT_BATCH:
            batch = streamed.transactions[consumed : consumed + IMPORT_BATCH]
            consumed += len(batch)
            store(
                batch,
                file_currency=organization_currency,
                file_account="",
                read=len(streamed.transactions),
            )
        else:
            parser.join(0.005)
    error = outcome.get("error")
    if error is not None:
        if not isinstance(error, importers.ImportFileError):
            logger.error("payment import %s failed", import_id, exc_info=error)
        PaymentImport.objects.filter(pk=import_id).update(
            status=PaymentImport.Status.FAILED,
            error=error.message
            if isinstance(error, importers.ImportFileError)
            else f"unexpected error: {type(error).__name__}",
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
        return
    result = outcome["result"]
    total = len(result.transactions)
    PaymentImport.objects.filter(pk=import_id).update(
        format=result.format,
        total=total,
        processed=progress["stored"],
        debits_skipped=result.debits_skipped,
        rejected=[
            {"line_number": line.line_number, "reason": line.reason, "raw": line.raw}
            for line in result.rejected
        ],
        bank_account=(result.account or "")[:100],
        currency=(result.currency or "")[:3],
        updated_at=timezone.now(),
    )
    for start in range(consumed, total, IMPORT_BATCH):
        store(
            result.transactions[start : start + IMPORT_BATCH],
            file_currency=result.currency or organization_currency,
            file_account=result.account or "",
            read=total,
        )
    rows_count = total
    created = Payment.objects.filter(payment_import_id=payment_import.pk)
    created_count = created.count()
    with transaction.atomic():
        if created_count and _subscribed(payment_import.organization_id, "payment.imported"):
            from payments.rendering import render_payment
            from payments.selectors import payment_list

            created_ids = list(created.values_list("pk", flat=True))
            for start in range(0, len(created_ids), 500):
                for payment in payment_list(organization=payment_import.organization_id).filter(
                    pk__in=created_ids[start : start + 500]
                ):
                    event_emit(
                        organization_id=payment.organization_id,
                        event_type="payment.imported",
                        data=render_payment(payment),
                    )
        PaymentImport.objects.filter(pk=payment_import.pk).update(
            status=PaymentImport.Status.DONE,
            created_count=created_count,
            created_totals=_created_totals(created),
            duplicates_count=rows_count - created_count,
            finished_at=timezone.now(),
            updated_at=timezone.now(),
        )
    if created_count:
        org_id = payment_import.organization_id
        transaction.on_commit(
            lambda: _send(
                tasks.payments_match_task,
                args=[org_id],
                kwargs={"import_id": str(payment_import.pk)},
            )
        )


def _created_totals(created) -> list[dict]:
    """The credits an import created, per currency: count and exact sum (a decimal string)."""
    from django.db.models import Count, Sum

    rows = created.order_by().values("currency").annotate(count=Count("pk"), amount=Sum("amount"))
    return [
        {"currency": row["currency"], "count": row["count"], "amount": f"{row['amount']:.2f}"}
        for row in sorted(rows, key=lambda row: row["currency"])
    ]


IMPORT_QUEUED_GRACE = 120


def payment_imports_requeue_stale() -> int:
    """Queue again the imports whose task was lost: queued for over two minutes, or
    running with a silent worker for ``IMPORT_STALE_AFTER`` seconds (beat, every 5 minutes)."""
    from datetime import timedelta

    from django.db.models import Q

    from payments import tasks
    from payments.models import PaymentImport

    now = timezone.now()
    stale = list(
        PaymentImport.objects.filter(
            Q(
                status=PaymentImport.Status.QUEUED,
                created_at__lt=now - timedelta(seconds=IMPORT_QUEUED_GRACE),
            )
            | Q(
                status=PaymentImport.Status.RUNNING,
                updated_at__lt=now - timedelta(seconds=IMPORT_STALE_AFTER),
            )
        ).values_list("pk", flat=True)[:100]
    )
    for import_id in stale:
        _send(tasks.payment_import_task, args=[str(import_id)])
    return len(stale)
