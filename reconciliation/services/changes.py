"""Accounting changes and their lifecycle: recording, approval and rejection.

Every money event of a lower app (``arpilot.hooks.MoneyMoved``) becomes a ``pending``
accounting change in the same transaction (``change_record_from_event``). A clerk approves it
(marking the payment reviewed, ``POST /reconciliation/approve``, the admin) or rejects it
(rejecting a payment application unapplies it). Approvals are numbered in commit order
(``approval_sequence``); with maker-checker on, nobody approves their own change.
"""

from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from arpilot import hooks
from arpilot.actors import current_actor
from arpilot.errors import ApplicationError
from arpilot.models import Organization
from arpilot.money import MILL, money_value
from payments.models import PaymentAllocation
from payments.services import payment_unapply
from receivables.models import Invoice
from receivables.services import invoice_offline_payment_reverse
from reconciliation import lock_objects
from reconciliation.models import AccountingChange
from reconciliation.payloads import payload_build
from reconciliation.services.common import (
    REJECTABLE,
    BatchResult,
    ChangeType,
    Status,
    _emit,
    _in_request_order,
    _unique,
    _wrong_status,
)
from reconciliation.services.sync import _sync_kick_on_commit

SEQUENCE_NAME = "reconciliation_change_sequence"


# --- recording ------------------------------------------------------------------------------


def _sequence(organization_id: int) -> dict:
    """The new change's number: greater than every earlier change's of the organization,
    without a row lock. PostgreSQL: the column's default draws it from one shared sequence
    on INSERT (never blocks concurrent money transactions; numbers per organization have
    gaps). SQLite serializes writers, so max + 1 is safe there."""
    if connection.vendor == "postgresql":
        return {}
    last = AccountingChange.objects.for_org(organization_id).aggregate(last=Max("sequence"))
    return {"sequence": (last["last"] or 0) + 1}


def change_record_from_event(event: hooks.MoneyMoved) -> AccountingChange:
    """Record a pending accounting change for the money that moved (``receivers.money_moved``).

    Called inside the lower app's transaction (one INSERT: no savepoint of its own), after
    its ledger posting. The event's
    ``payload`` may name the ledger entries (``journal_entry_id``/``journal_entry_ids``) and
    override ``date`` or ``memo``; other keys are kept as they are.
    """
    organization, change_type, amount = event.organization, event.change_type, event.amount
    invoice, customer, payment = event.invoice, event.customer, event.payment
    payload = event.payload
    if change_type not in ChangeType.values:
        raise ValueError(f"Unknown accounting change type {change_type!r}")
    if not isinstance(organization, Organization):
        organization = Organization.objects.get(pk=organization)
    amount = money_value(Decimal(amount).quantize(MILL))
    if customer is None and invoice is not None:
        customer = invoice.customer
    for obj in (invoice, customer, payment):
        if obj is not None and obj.organization_id != organization.pk:
            raise ValueError("An accounting change's objects belong to its organization.")
    actor = current_actor()
    change = AccountingChange.objects.create(
        organization=organization,
        **_sequence(organization.pk),
        caused_by=actor.key if actor else "",
        caused_by_name=actor.name[:150] if actor else "",
        change_type=change_type,
        amount=amount,
        invoice=invoice,
        customer=customer,
        payment=payment,
        payload=payload_build(
            organization=organization,
            change_type=change_type,
            amount=amount,
            invoice=invoice,
            customer=customer,
            payment=payment,
            extra=dict(payload or {}),
            entries=event.entries,
        ),
    )
    return change


# --- approval and rejection -----------------------------------------------------------------


# Held until commit while an approval number is taken, so approvals of one organization
# commit in number order and a pull by cursor never passes a number still uncommitted.
_APPROVAL_LOCK_CLASS = 0x41505052  # "APPR"


def _next_approval_sequence(organization_id: int) -> int:
    """The organization's next approval number. PostgreSQL: under a transaction-scoped
    advisory lock (one approving transaction of the organization at a time, from here to its
    commit); SQLite serializes writers anyway."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT pg_advisory_xact_lock(%s, %s)", [_APPROVAL_LOCK_CLASS, organization_id]
            )
    last = AccountingChange.objects.for_org(organization_id).aggregate(
        last=Max("approval_sequence")
    )
    return (last["last"] or 0) + 1


def _maker_checker_refusal(organization, change: AccountingChange) -> str | None:
    """Why the current actor may not approve ``change``, or None."""
    if not organization.maker_checker or not change.caused_by:
        return None
    actor = current_actor()
    if actor is not None and actor.key == change.caused_by:
        return "maker-checker: you made this change, another user must approve it"
    return None


def _approve(change: AccountingChange, *, now, decided_by: str) -> None:
    change.status = Status.APPROVED
    change.approved_at = now
    change.approval_sequence = _next_approval_sequence(change.organization_id)
    change.decided_by = decided_by[:150]
    change.next_attempt_at = None
    change.save(
        update_fields=[
            "status",
            "approved_at",
            "approval_sequence",
            "decided_by",
            "next_attempt_at",
            "updated_at",
        ]
    )
    _emit(change, "accounting_change.approved")


@transaction.atomic
def changes_approve(*, organization, change_ids, decided_by: str = "api") -> BatchResult:
    """Approve pending changes; others are skipped (unknown id, wrong status, or the
    approver's own change where the organization has maker-checker on)."""
    if not isinstance(organization, Organization):
        organization = Organization.objects.get(pk=organization)
    ids = _unique(change_ids)
    locked = {change.pk: change for change in lock_objects.changes_for_update(organization, ids)}
    result = BatchResult()
    now = timezone.now()
    for change_id in ids:
        change = locked.get(change_id)
        if change is None:
            result.skip(change_id, "unknown id")
        elif change.status != Status.PENDING:
            result.skip(change_id, _wrong_status(change))
        elif refusal := _maker_checker_refusal(organization, change):
            result.skip(change_id, refusal)
        else:
            _approve(change, now=now, decided_by=decided_by)
            result.updated.append(change_id)
    if result.updated:
        _sync_kick_on_commit(organization)
    return result


@transaction.atomic
def changes_approve_for_payment(*, organization, payment) -> int:
    """Approve the reviewed payment's pending changes (``receivers.payment_reviewed``)
    (with maker-checker on, those the reviewer made stay pending for another user)."""
    if not isinstance(organization, Organization):
        organization = Organization.objects.get(pk=organization)
    changes = lock_objects.payment_changes_for_update(
        organization, payment.pk, status=Status.PENDING
    )
    now = timezone.now()
    actor = current_actor()
    decided_by = f"payment review by {actor.name}" if actor else "payment review"
    approved = [change for change in changes if not _maker_checker_refusal(organization, change)]
    for change in approved:
        _approve(change, now=now, decided_by=decided_by)
    if approved:
        _sync_kick_on_commit(organization)
    return len(approved)


class _StatusChanged(Exception):
    def __init__(self, change):
        super().__init__(change.status)
        self.change = change


def _reject(change: AccountingChange, *, now, reason: str, decided_by: str) -> None:
    change.status = Status.REJECTED
    change.rejected_at = now
    change.rejection_reason = reason[:500]
    change.decided_by = decided_by[:150]
    change.next_attempt_at = None
    change.locked_until = None
    change.lease_token = None
    change.save()


class _CannotUnapply(Exception):
    pass


def _rejectable_companion(organization, change_type: str, *, payment_id, invoice_id, **lookup):
    return (
        AccountingChange.objects.for_org(organization)
        .filter(
            change_type=change_type,
            payment_id=payment_id,
            invoice_id=invoice_id,
            status__in=REJECTABLE,
            **lookup,
        )
        .order_by("sequence")
        .first()
    )


def _reject_application(
    organization, change: AccountingChange, *, now, reason: str, decided_by: str
) -> None:
    """Unapply the application behind a ``payment_applied`` change and reject the change.

    The payments app locks the payment first, then the changes are locked (the order payment
    review uses too). The unapplication records a ``payment_unapplied`` change; since the
    ledger never got the application, that change is rejected too when it exactly offsets it
    (same amount, and any write-off it reverses is rejected with it). An application that
    was already unapplied is rejected together with its still-rejectable unapplication.
    """
    allocation_id = change.payload.get("allocation_id")
    allocation = (
        PaymentAllocation.objects.filter(pk=allocation_id, payment_id=change.payment_id).first()
        if allocation_id
        else None
    )
    offsetting = write_off = None
    if allocation is not None and allocation.unapplied_at is not None:
        offsetting = _rejectable_companion(
            organization,
            ChangeType.PAYMENT_UNAPPLIED,
            payment_id=change.payment_id,
            invoice_id=change.invoice_id,
            payload__allocation_id=str(allocation_id),
        )
        if offsetting is None:
            raise _CannotUnapply(
                "the application was already unapplied and that unapplication is not "
                "pending or failed"
            )
    else:
        unapplied = payment_unapply(
            organization=organization,
            payment_id=change.payment_id,
            invoice_id=change.invoice_id,
            by_clerk=True,
            reason=reason or f"Accounting change #{change.sequence} rejected",
        )
        offsetting = next(
            (
                recorded
                for recorded in unapplied.recorded
                if isinstance(recorded, AccountingChange)
                and recorded.change_type == ChangeType.PAYMENT_UNAPPLIED
                and recorded.amount == change.amount
            ),
            None,
        )
    if offsetting is not None and offsetting.payload.get("write_off_reversal"):
        write_off = _rejectable_companion(
            organization,
            ChangeType.WRITE_OFF,
            payment_id=change.payment_id,
            invoice_id=change.invoice_id,
            payload__allocation_id=str(allocation_id) if allocation_id else None,
        )
        if write_off is None:
            offsetting = None  # the write-off reached the ledger: its reversal must too
    ids = [change.pk] + [c.pk for c in (offsetting, write_off) if c is not None]
    locked = {c.pk: c for c in lock_objects.changes_for_update(organization, ids)}
    if locked[change.pk].status not in REJECTABLE:
        raise _StatusChanged(locked[change.pk])
    _reject(locked[change.pk], now=now, reason=reason, decided_by=decided_by)
    companion_reason = f"Offsets rejected change #{change.sequence} ({change.pk})."
    for companion in (offsetting, write_off):
        if companion is not None and locked[companion.pk].status in REJECTABLE:
            _reject(locked[companion.pk], now=now, reason=companion_reason, decided_by=decided_by)


def _reject_offline_payment(
    organization, change: AccountingChange, *, now, reason: str, decided_by: str
) -> None:
    """Reverse the offline payment behind an ``offline_payment`` change and reject the change.

    The reversal (receivables) restores the invoice's balance with a ledger reversal and
    records a ``payment_unapplied`` change; the ledger never got the payment, so that change
    is rejected with this one.
    """
    offline_payment_id = change.payload.get("offline_payment_id")
    invoice = Invoice.objects.for_org(organization).filter(pk=change.invoice_id).first()
    if invoice is None or not offline_payment_id:
        raise _CannotUnapply("the offline payment behind it is not known")
    invoice_offline_payment_reverse(
        invoice=invoice,
        offline_payment_id=offline_payment_id,
        reason=reason or f"Accounting change #{change.sequence} rejected",
        reversed_by=decided_by,
    )
    offsetting = _rejectable_companion(
        organization,
        ChangeType.PAYMENT_UNAPPLIED,
        payment_id=None,
        invoice_id=change.invoice_id,
        payload__offline_payment_id=str(offline_payment_id),
    )
    ids = [change.pk] + ([offsetting.pk] if offsetting is not None else [])
    locked = {c.pk: c for c in lock_objects.changes_for_update(organization, ids)}
    if locked[change.pk].status not in REJECTABLE:
        raise _StatusChanged(locked[change.pk])
    _reject(locked[change.pk], now=now, reason=reason, decided_by=decided_by)
    if offsetting is not None and locked[offsetting.pk].status in REJECTABLE:
        _reject(
            locked[offsetting.pk],
            now=now,
            reason=f"Offsets rejected change #{change.sequence} ({change.pk}).",
            decided_by=decided_by,
        )


# Changes whose money ARPilot takes back when they are rejected (the ledger never gets it).
_REVERSED_ON_REJECT = {
    ChangeType.PAYMENT_APPLIED: _reject_application,
    ChangeType.OFFLINE_PAYMENT: _reject_offline_payment,
}
# Changes that only make sense with another: rejecting one alone would leave ARPilot's money
# and the ledger's apart, so it is refused with the way out.
_NOT_REJECTABLE_ALONE = {
    ChangeType.WRITE_OFF: "a write-off is rejected with the payment application it belongs to",
    ChangeType.PAYMENT_UNAPPLIED: "the money was already taken back in ARPilot; approve this "
    "change so the ledger follows, or apply the payment again",
    # A dispute's credit note (receivables.services.invoice_credit): rejecting it does not
    # put the balance back, so it is refused rather than leave ARPilot and the ledger apart.
    ChangeType.CREDIT_NOTE: "the credit note already lowered the invoice's balance in ARPilot; "
    "approve this change so the ledger follows",
    # A refund of customer credit (payments.services.credit.credit_refund): the money went
    # out to the customer; rejecting the change would not bring it back.
    ChangeType.REFUND: "the refund was already paid out of the customer's credit in ARPilot; "
    "approve this change so the ledger follows",
}
# A write-off of an invoice's balance (receivables.services.invoice_write_off, a dispute's;
# its payload says ``adjustment``) is no payment application's: refused in its own words.
_INVOICE_WRITE_OFF = (
    "the write-off already lowered the invoice's balance in ARPilot; approve this change so "
    "the ledger follows"
)


def _not_rejectable_alone(change: AccountingChange) -> str:
    """Why ``change`` is not rejected on its own ("" when it may be)."""
    if change.change_type == ChangeType.WRITE_OFF and change.payload.get("adjustment"):
        return _INVOICE_WRITE_OFF
    return _NOT_REJECTABLE_ALONE.get(change.change_type, "")


def _money_reversal_order(change: AccountingChange) -> tuple:
    """Payment locks first (payment applications, by payment), then invoice locks."""
    if change.change_type == ChangeType.PAYMENT_APPLIED:
        return (0, str(change.payment_id), str(change.pk))
    return (1, str(change.invoice_id), str(change.pk))


@transaction.atomic
def changes_reject(
    *, organization, change_ids, reason: str = "", decided_by: str = "api"
) -> BatchResult:
    """Reject pending (or failed) changes; a change whose money moved has it reversed
    (a payment application is unapplied, an offline payment reversed), with the change it
    causes rejected with it."""
    if not isinstance(organization, Organization):
        organization = Organization.objects.get(pk=organization)
    ids = _unique(change_ids)
    found = AccountingChange.objects.for_org(organization).in_bulk(ids)
    result = BatchResult()
    now = timezone.now()
    reversals = sorted(
        (
            change
            for change in found.values()
            if change.change_type in _REVERSED_ON_REJECT
            and change.status in REJECTABLE
            and (change.payment_id is not None or change.invoice_id is not None)
        ),
        key=_money_reversal_order,
    )
    for change in reversals:
        try:
            with transaction.atomic():
                _REVERSED_ON_REJECT[change.change_type](
                    organization, change, now=now, reason=reason, decided_by=decided_by
                )
            result.updated.append(change.pk)
        except _StatusChanged as exc:
            result.skip(change.pk, _wrong_status(exc.change))
        except (ApplicationError, _CannotUnapply) as exc:
            verb = "unapply" if change.change_type == ChangeType.PAYMENT_APPLIED else "reverse"
            result.skip(change.pk, f"cannot {verb}: {getattr(exc, 'message', exc)}")
    handled = {change.pk for change in reversals}
    others = [change_id for change_id in ids if change_id in found and change_id not in handled]
    locked = {change.pk: change for change in lock_objects.changes_for_update(organization, others)}
    for change_id in ids:
        if change_id in handled:
            continue
        change = locked.get(change_id)
        if change is None:
            result.skip(change_id, "unknown id")
        elif change.status not in REJECTABLE:
            result.skip(change_id, _wrong_status(change))
        elif refusal := _not_rejectable_alone(change):
            result.skip(change_id, refusal)
        else:
            _reject(change, now=now, reason=reason, decided_by=decided_by)
            result.updated.append(change_id)
    return _in_request_order(result, ids)
