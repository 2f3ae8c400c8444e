"""Money on payments: creating one, applying it to invoices, unapplying, writing off a
short-payment, review, and auto-applying a matching suggestion.

Money moves only through ``receivables.services.invoice_apply_payment`` and
``invoice_unapply_payment`` (each posts one journal entry; see ``allocations``). Lock order:
the payment row first (``lock_objects.payment_for_update``), then every invoice involved in
primary-key order (``receivables.lock_objects.invoices_for_update``), then the invoice
services re-lock the rows they already hold. Balances are read only after those locks, so
concurrent requests serialise on the payment and on the invoices and never apply the same
money twice.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from arpilot import hooks
from arpilot.currencies import amount_check, currency_validate
from arpilot.errors import Conflict, ValidationFailed
from payments import lock_objects
from payments.models import ZERO, PayerCustomerHistory, Payment, PaymentAllocation
from payments.rendering import render_payment
from payments.selectors import payment_get, payment_hold_rendering
from payments.services.aliases import payer_account_clean, payer_aliases_unlearn, payer_keys
from payments.services.allocations import (
    AllocationSpec,
    active_allocations,
    allocation_apply,
    allocation_unapply,
    allocations_set,
    applicable_amount,
    lock_invoices,
    resolve_targets,
    save_money,
    write_off_short,
)
from payments.services.common import organization_currency, payment_settings_get
from payments.services.remittances import remittances_link_waiting
from receivables.models import Invoice
from webhooks.services import event_emit, event_wanted

_UNSET = object()


# --- events -----------------------------------------------------------------------------------


def _emit(payment: Payment, event_types: list[str]) -> None:
    """Emit events with the payment as the API renders it (rendered only if anyone listens)."""
    wanted = [
        name for name in dict.fromkeys(event_types) if event_wanted(payment.organization_id, name)
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


@transaction.atomic(savepoint=False)  # an error ends the caller's transaction too
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
    payer_account: str = "",
) -> Payment:
    """Record one received payment (unmatched). A second payment with the same
    ``external_payment_id`` in the organization is a 409 carrying ``existing_id``.
    ``currency`` (ISO 4217) defaults to the organization's base currency; the amount has at
    most its decimal places (a 400 naming ``currency`` or ``amount``, never rounded).
    ``payer_account`` is stored normalized (an IBAN must pass its check: a 400 naming it).
    Remittance advice that arrived first and waits for this payment is applied to it
    (``remittances_link_waiting``)."""
    if amount is None or amount <= 0:
        raise ValidationFailed(
            "amount must be greater than zero.", fields={"amount": ["Must be greater than zero."]}
        )
    currency = currency_validate(currency) if currency else organization_currency(organization)
    amount_check(amount, currency or "USD", "amount")
    payer_account = payer_account_clean(payer_account)
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
        currency=currency,
        bank_account=bank_account or "",
        payer_account=payer_account,
        source=Payment.Source.API,
    )
    if not external_payment_id:
        payment.save(force_insert=True)  # nothing unique to clash on
    else:
        try:
            with transaction.atomic():
                payment.save(force_insert=True)
        except IntegrityError:
            conflict = _existing_conflict(organization, external_payment_id)
            if conflict:
                raise conflict from None
            raise
    _emit(payment, ["payment.imported"])
    if remittances_link_waiting(organization, [payment]):
        payment.refresh_from_db()  # applied by its advice
    return payment


# --- a clerk's update -------------------------------------------------------------------------


def _history_record(payment: Payment, customer_ids) -> None:
    """Remember that a clerk matched this payer (its name, and its account when known) to
    these customers (matching evidence)."""
    keys = payer_keys(payment)
    if not keys:
        return
    customers = sorted(set(customer_ids), key=str)
    if not customers:
        return
    # One upsert for every customer (PostgreSQL and SQLite both speak ON CONFLICT): no
    # read-then-write race, no savepoint.
    table = PayerCustomerHistory._meta.db_table
    customer_field = PayerCustomerHistory._meta.get_field("customer")
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    params = []
    for key in keys:
        for customer_id in customers:
            params += [
                payment.organization_id,
                key,
                customer_field.get_db_prep_value(customer_id, connection),
                now,
            ]
    rows = ", ".join(["(%s, %s, %s, 1, %s)"] * (len(customers) * len(keys)))
    with connection.cursor() as cursor:
        cursor.execute(
            # Our own table name; the values are parameters.
            f"INSERT INTO {table} (organization_id, payer_key, customer_id, count, updated_at) "  # noqa: S608
            f"VALUES {rows} ON CONFLICT (organization_id, payer_key, customer_id) "
            f"DO UPDATE SET count = {table}.count + 1, updated_at = excluded.updated_at",
            params,
        )


def _set_reviewed(payment: Payment, reviewed: bool) -> bool:
    if payment.reviewed == reviewed:
        return False
    payment.reviewed = reviewed
    payment.reviewed_at = timezone.now() if reviewed else None
    payment.save(update_fields=["reviewed", "reviewed_at", "updated_at"])
    if reviewed:
        hooks.dispatch(hooks.PaymentReviewed(organization=payment.organization, payment=payment))
    return True


def _details_update(payment: Payment, changes: dict) -> None:
    """Save the payer name, payer reference and notes among ``changes`` that differ."""
    dirty = [
        name
        for name in ("payer_name", "payer_reference", "notes")
        if name in changes and changes[name] != getattr(payment, name)
    ]
    for name in dirty:
        setattr(payment, name, changes[name] or "")
    if dirty:
        payment.save(update_fields=[*dirty, "updated_at"])


def _allocation_specs(
    invoice_id, allocations: list[dict] | None, exchange_rate=None
) -> list[AllocationSpec] | None:
    """The spread a request asks for (None: leave it as it is). ``exchange_rate`` is for
    every invoice of another currency, unless an allocation names its own."""
    if invoice_id is not _UNSET:
        if invoice_id is None:
            return []
        return [AllocationSpec(invoice_id, None, "invoice_id", exchange_rate)]
    if allocations is not None:
        return [
            AllocationSpec(
                item["invoice_id"],
                item["amount"],
                f"allocations.{index}.invoice_id",
                item.get("exchange_rate", exchange_rate),
                f"allocations.{index}.exchange_rate"
                if item.get("exchange_rate") is not None
                else "exchange_rate",
            )
            for index, item in enumerate(allocations)
        ]
    return None


def _unapplied_by_clerk_from(payment: Payment) -> set:
    """The customers whose invoices a clerk took this payment's money back from (one
    statement, only for a payment a clerk has unapplied)."""
    if not payment.unapplied_by_clerk:
        return set()
    return set(
        PaymentAllocation.objects.filter(payment=payment, unapplied_by_clerk=True).values_list(
            "invoice__customer_id", flat=True
        )
    )


def _clerk_spread(payment: Payment, specs: list[AllocationSpec], active, invoices) -> list[str]:
    """Make the payment's allocations the clerk's ``specs``; the events that calls for."""
    before = {allocation.invoice_id for allocation in active}
    targets = resolve_targets(payment, specs, active, invoices)
    fields = {invoices[spec.invoice_id].pk: spec.field for spec in specs}
    had_money = payment.applied_amount > 0
    changed = allocations_set(
        payment,
        targets,
        active,
        invoices,
        applied_by=PaymentAllocation.AppliedBy.CLERK,
        fields=fields,
        reason="changed by a clerk",
    )
    if not changed:
        return []
    payment.auto_applied = False
    events = []
    if had_money:
        events.append("payment.unapplied")
    if targets:
        events.append("payment.applied")
    gained = {invoices[pk].customer_id for pk in targets}
    _history_record(payment, {invoices[pk].customer_id for pk in targets if pk not in before})
    if targets:  # reassigned: the customers it was taken from were not this payer
        lost = {invoices[pk].customer_id for pk in before if pk in invoices} - gained
        lost |= _unapplied_by_clerk_from(payment) - gained
        payer_aliases_unlearn(payment, lost)
    return events


def _money_update(
    payment: Payment, organization, specs: list[AllocationSpec] | None, write_off: bool
) -> list[str]:
    """Set the clerk's spread and/or write off the short-payment; the events to emit."""
    events: list[str] = []
    active = active_allocations(payment)
    invoices = lock_invoices(payment, active, [spec.invoice_id for spec in specs or []])
    if specs is not None:
        events += _clerk_spread(payment, specs, active, invoices)
    if write_off:
        tolerance = payment_settings_get(organization=organization).write_off_tolerance
        if write_off_short(payment, invoices, tolerance):
            events.append("payment.applied")
    save_money(payment)
    return events


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
    exchange_rate: Decimal | None = None,
) -> Payment:
    """A clerk's partial update of a payment.

    ``changes``: payer_name, payer_reference, notes. ``invoice_id`` applies the payment to
    that one invoice (as much as its open balance takes, replacing other allocations; None
    unapplies all). ``allocations`` ([{invoice_id, amount, exchange_rate?}]) sets the whole
    spread (``[]`` unapplies all). ``exchange_rate`` (also accepted in ``changes``): the
    invoice's currency per unit of the payment's, for invoices of another currency (else the
    organization's rates of the payment date; neither is a 400 naming ``exchange_rate``);
    the invoice is settled in its currency and the realised exchange gain or loss posted
    (``allocations.payment_conversion``). ``write_off_short_payment`` writes off what its
    invoices still owe when that is within the organization's tolerance (base currency).
    ``reviewed`` marks it (un)reviewed.
    """
    if invoice_id is not _UNSET and allocations is not None:
        raise ValidationFailed(
            "Send invoice_id or allocations, not both.",
            fields={"allocations": ["Cannot be combined with invoice_id."]},
        )
    changes = dict(changes or {})
    exchange_rate = changes.pop("exchange_rate", exchange_rate)
    payment = lock_objects.payment_for_update(organization, payment_id)
    _details_update(payment, changes)
    specs = _allocation_specs(invoice_id, allocations, exchange_rate)
    if exchange_rate is not None and not specs:
        raise ValidationFailed(
            "exchange_rate goes with invoice_id or allocations.",
            fields={"exchange_rate": ["Only with invoice_id or allocations."]},
        )
    events: list[str] = []
    if specs is not None or write_off_short_payment:
        events += _money_update(payment, organization, specs, write_off_short_payment)
    if reviewed is not None and _set_reviewed(payment, reviewed) and reviewed:
        events.append("payment.reviewed")
    _emit(payment, events)
    return payment


# --- unapplying, review -----------------------------------------------------------------------


@dataclass(frozen=True)
class Unapplied:
    """What ``payment_unapply`` reversed: the allocations, and what the money-event receivers
    recorded for them (the accounting changes), so a caller never has to look for them."""

    payment: Payment
    allocations: list
    recorded: list


@transaction.atomic
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
        for allocation in active_allocations(payment)
        if invoice_id is None or str(allocation.invoice_id) == str(invoice_id)
    ]
    if not active:
        return Unapplied(payment=payment, allocations=[], recorded=[])
    invoices = lock_invoices(payment, active)
    recorded = []
    for allocation in active:
        recorded += allocation_unapply(
            payment, allocation, invoices[allocation.invoice_id], by_clerk=by_clerk, reason=reason
        )
    if by_clerk:
        payment.auto_applied = False
    save_money(payment)
    _emit(payment, ["payment.unapplied"])
    return Unapplied(payment=payment, allocations=active, recorded=recorded)


@transaction.atomic
def payment_mark_reviewed(*, organization, payment_id, reviewed: bool) -> Payment:
    """Mark the payment reviewed (calling ``ARPILOT_PAYMENT_REVIEWED_HANDLERS``) or not."""
    payment = lock_objects.payment_for_update(organization, payment_id)
    if _set_reviewed(payment, reviewed) and reviewed:
        _emit(payment, ["payment.reviewed"])
    return payment


# --- spreading a suggestion, auto-apply -------------------------------------------------------


@dataclass(frozen=True)
class Spread:
    shares: list  # (invoice id, amount) in the invoices' order; a share may be zero
    remaining: Decimal  # what no invoice took


def amount_spread(amount: Decimal, invoice_ids, available: dict) -> Spread:
    """The spreading rule of a suggestion: ``amount`` over ``invoice_ids`` in order, each
    taking up to what it has ``available`` (ids missing from ``available`` are passed over)."""
    shares = []
    remaining = amount
    for invoice_id in invoice_ids:
        if invoice_id not in available:
            continue
        share = min(remaining, available[invoice_id])
        shares.append((invoice_id, share))
        remaining -= max(share, ZERO)
    return Spread(shares=shares, remaining=remaining)


def suggestion_allocations(
    payment: Payment, *, amount: Decimal, invoice_ids, invoices: dict
) -> list[dict]:
    """The ``allocations`` for ``payment_update`` that apply a suggestion as auto-apply
    would (``amount_spread``), replacing the payment's spread: what it holds on an invoice
    counts as open there. ``invoices``: {pk: invoice} as read now; ``payment`` with
    ``active_allocations`` prefetched (else they are read)."""
    held_allocations = getattr(payment, "active_allocations", None)
    if held_allocations is None:
        held_allocations = active_allocations(payment)
    held = {a.invoice_id: a.settled_amount + a.write_off_amount for a in held_allocations}
    available = {pk: invoice.amount_due + held.get(pk, ZERO) for pk, invoice in invoices.items()}
    spread = amount_spread(min(amount, payment.amount), invoice_ids, available)
    return [{"invoice_id": pk, "amount": share} for pk, share in spread.shares if share > 0]


@transaction.atomic(savepoint=False)  # an error ends the caller's transaction too
def payment_auto_apply(
    *, organization, payment_id, invoice_ids, amount: Decimal, payment: Payment | None = None
) -> bool:
    """Apply a matching suggestion without a clerk, if it still fits; True when applied.

    ``payment``: the row, when the caller created it in this very transaction (nobody else
    can see it, so it is not locked again); it comes back holding its allocations
    (``selectors.payment_hold_rendering``), so the reply need not read them back.

    The payment must still be unmatched and never unapplied by a clerk; ``amount`` is spread
    over ``invoice_ids`` by ``amount_spread`` (in the given order, each up to its open
    balance), and every invoice must take a share and the whole amount be placed.
    """
    in_hand = payment is not None
    if not in_hand:
        payment = lock_objects.payment_for_update(organization, payment_id)
    if payment.status != Payment.Status.UNMATCHED or payment.unapplied_by_clerk:
        return False
    if amount <= 0 or amount > applicable_amount(payment):  # what a refund left, at most
        return False
    invoices = lock_invoices(payment, [], invoice_ids)
    if any(
        invoices.get(pk) is None or invoices[pk].status not in Invoice.OPEN_STATUSES
        for pk in invoice_ids
    ):
        return False
    paid_in = (payment.currency or "").upper() or organization_currency(organization)
    if any(invoices[pk].currency != paid_in for pk in invoice_ids):
        return False  # across currencies a rate is needed: never without a clerk
    spread = amount_spread(
        amount, invoice_ids, {pk: invoice.amount_due for pk, invoice in invoices.items()}
    )
    if spread.remaining > 0 or any(share <= 0 for _, share in spread.shares):
        return False
    created = [
        allocation_apply(
            payment,
            invoices[invoice_id],
            share,
            applied_by=PaymentAllocation.AppliedBy.AUTO,
            field="invoice_id",
        )
        for invoice_id, share in spread.shares
    ]
    payment.auto_applied = True
    save_money(payment)
    if in_hand:
        payment_hold_rendering(payment, allocations=created)  # it had none (unmatched)
    _emit(payment, ["payment.applied"])
    return True
