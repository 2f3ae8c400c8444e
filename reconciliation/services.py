"""Accounting changes, their lifecycle, and the accounting sync.

Every money event of a lower app (``arpilot.hooks.MoneyMoved``) becomes a ``pending``
accounting change in the same transaction (``change_record_from_event``). A clerk approves it
(marking the payment reviewed, ``POST /reconciliation/approve``, the admin) or rejects it
(rejecting a payment application unapplies it). Approved changes reach the general ledger
either by pull (integrations list them and report ``mark_synced``/``mark_failed``) or by push
(``changes_sync``: a signed POST of batches to the organization's sync target).
"""

import json
import logging
import uuid
from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, F, Max, OuterRef, Q
from django.utils import timezone
from rest_framework.utils.encoders import JSONEncoder

from arpilot import hooks
from arpilot.actors import current_actor
from arpilot.errors import ApplicationError, Conflict, ValidationFailed
from arpilot.models import Organization
from payments.models import PaymentAllocation
from payments.services import payment_unapply
from reconciliation import lock_objects
from reconciliation.models import AccountingChange, SyncTarget
from reconciliation.payloads import payload_build
from reconciliation.rendering import render_change
from webhooks import ssrf, transport
from webhooks.services import event_emit

logger = logging.getLogger(__name__)

Status = AccountingChange.Status
ChangeType = AccountingChange.ChangeType
CENT = Decimal("0.01")

SEQUENCE_NAME = "reconciliation_change_sequence"

# Push sync.
SYNC_BATCH = 100
SYNC_BATCHES_PER_RUN = 20  # then the run hands over to a fresh task
MAX_ATTEMPTS = 5
# Wait after failed attempt n (1-based) before attempt n+1: about 43 minutes in all.
RETRY_DELAYS = [
    timedelta(seconds=30),
    timedelta(minutes=2),
    timedelta(minutes=10),
    timedelta(minutes=30),
]
# Well past the 15 s connect + 15 s read timeouts of one POST; a dead worker's lease runs out.
LEASE = timedelta(minutes=2)
DUE_TOLERANCE = timedelta(seconds=1)
SECRET_OVERLAP = timedelta(hours=24)
BATCH_EVENT_TYPE = "accounting_changes.batch"

SYNCED_FROM = (Status.APPROVED, Status.FAILED)
REJECTABLE = (Status.PENDING, Status.FAILED)


# --- recording ------------------------------------------------------------------------------


def _next_sequence(organization_id: int) -> int:
    """A number greater than every earlier change's of the organization, without a row lock.

    PostgreSQL: one shared sequence (never blocks concurrent money transactions; numbers per
    organization have gaps). SQLite serializes writers, so max + 1 is safe there.
    """
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT nextval('{SEQUENCE_NAME}')")
            return cursor.fetchone()[0]
    last = AccountingChange.objects.for_org(organization_id).aggregate(last=Max("sequence"))
    return (last["last"] or 0) + 1


@transaction.atomic
def change_record_from_event(event: hooks.MoneyMoved) -> AccountingChange:
    """Record a pending accounting change for the money that moved (``receivers.money_moved``).

    Called inside the lower app's transaction, after its ledger posting. The event's
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
    amount = Decimal(amount).quantize(CENT)
    if customer is None and invoice is not None:
        customer = invoice.customer
    for obj in (invoice, customer, payment):
        if obj is not None and obj.organization_id != organization.pk:
            raise ValueError("An accounting change's objects belong to its organization.")
    actor = current_actor()
    change = AccountingChange.objects.create(
        organization=organization,
        sequence=_next_sequence(organization.pk),
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
        ),
    )
    return change


# --- lifecycle ------------------------------------------------------------------------------


@dataclass
class BatchResult:
    """What a batch operation changed, and what it left alone and why (in request order)."""

    updated: list = field(default_factory=list)
    skipped: list = field(default_factory=list)

    def skip(self, change_id, reason: str) -> None:
        self.skipped.append({"id": str(change_id), "reason": reason})

    def as_dict(self) -> dict:
        return {"updated": [str(i) for i in self.updated], "skipped": self.skipped}

    def __len__(self) -> int:
        return len(self.updated)


def _emit(change: AccountingChange, event_type: str) -> None:
    event_emit(
        organization_id=change.organization_id, event_type=event_type, data=render_change(change)
    )


def _wrong_status(change: AccountingChange) -> str:
    return f"wrong status: {change.status}"


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


def _in_request_order(result: BatchResult, ids: list) -> BatchResult:
    """Reorder ``updated``/``skipped`` as the ids were sent (processing is in lock order)."""
    position = {str(change_id): index for index, change_id in enumerate(ids)}
    result.updated.sort(key=lambda change_id: position[str(change_id)])
    result.skipped.sort(key=lambda item: position[item["id"]])
    return result


def _unique(change_ids) -> list:
    return list(dict.fromkeys(uuid.UUID(str(change_id)) for change_id in change_ids))


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
    from receivables.models import Invoice
    from receivables.services import invoice_offline_payment_reverse

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
}


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
        elif change.change_type in _NOT_REJECTABLE_ALONE:
            result.skip(change_id, _NOT_REJECTABLE_ALONE[change.change_type])
        else:
            _reject(change, now=now, reason=reason, decided_by=decided_by)
            result.updated.append(change_id)
    return _in_request_order(result, ids)


def _mark_synced(change: AccountingChange, *, now) -> None:
    change.status = Status.SYNCED
    change.synced_at = now
    change.error_message = ""
    change.next_attempt_at = None
    change.locked_until = None
    change.lease_token = None
    change.save()
    _emit(change, "accounting_change.synced")


def _mark_failed(change: AccountingChange, *, now, error: str) -> None:
    change.status = Status.FAILED
    change.failed_at = now
    change.error_message = error
    change.next_attempt_at = None
    change.locked_until = None
    change.lease_token = None
    change.save()
    _emit(change, "accounting_change.failed")


SYNC_ACTIONS = ("mark_synced", "mark_failed")
DEFAULT_FAILURE = "Marked failed by the integration."


@transaction.atomic
def changes_sync_status(
    *, organization, action: str, change_ids, error_message: str = ""
) -> BatchResult:
    """An integration reports changes as synced (from approved or failed) or failed (from
    approved); others are skipped (unknown id, wrong status)."""
    if action not in SYNC_ACTIONS:
        raise ValidationFailed(
            f"Unknown action {action!r}.", fields={"action": ["Use mark_synced or mark_failed."]}
        )
    ids = _unique(change_ids)
    locked = {change.pk: change for change in lock_objects.changes_for_update(organization, ids)}
    result = BatchResult()
    now = timezone.now()
    allowed = SYNCED_FROM if action == "mark_synced" else (Status.APPROVED,)
    for change_id in ids:
        change = locked.get(change_id)
        if change is None:
            result.skip(change_id, "unknown id")
        elif change.status not in allowed:
            result.skip(change_id, _wrong_status(change))
        else:
            if action == "mark_synced":
                _mark_synced(change, now=now)
            else:
                change.attempts += 1
                _mark_failed(change, now=now, error=error_message.strip() or DEFAULT_FAILURE)
            result.updated.append(change_id)
    return result


@transaction.atomic
def change_retry(*, change: AccountingChange, decided_by: str = "api") -> AccountingChange:
    """Queue a failed change again (``failed`` → ``approved``) with a fresh set of attempts."""
    [change] = lock_objects.changes_for_update(change.organization_id, [change.pk])
    if change.status != Status.FAILED:
        raise Conflict(
            f"Only a failed change can be retried; this one is {change.status}.",
            fields={"status": [f"Is {change.status}, not failed."]},
        )
    change.status = Status.APPROVED
    change.failed_at = None
    change.error_message = ""
    change.attempts = 0
    change.next_attempt_at = None
    change.locked_until = None
    change.lease_token = None
    change.decided_by = decided_by[:150]
    change.save()
    _emit(change, "accounting_change.approved")
    _sync_kick_on_commit(change.organization_id)
    return change


@transaction.atomic
def changes_retry(*, organization, change_ids, decided_by: str = "api") -> BatchResult:
    """``change_retry`` for several changes; those not failed are skipped."""
    ids = _unique(change_ids)
    locked = {change.pk: change for change in lock_objects.changes_for_update(organization, ids)}
    result = BatchResult()
    for change_id in ids:
        change = locked.get(change_id)
        if change is None:
            result.skip(change_id, "unknown id")
        elif change.status != Status.FAILED:
            result.skip(change_id, _wrong_status(change))
        else:
            change_retry(change=change, decided_by=decided_by)
            result.updated.append(change_id)
    return result


# --- sync target ----------------------------------------------------------------------------


def _url_validate(url: str) -> None:
    try:
        ssrf.url_check(url)
    except ssrf.UnsafeURL as exc:
        raise ValidationFailed(f"Invalid input: url: {exc}", fields={"url": [str(exc)]}) from exc


@transaction.atomic
def sync_target_save(
    *, organization, url: str | None = None, enabled: bool | None = None
) -> tuple[SyncTarget, bool]:
    """Create the organization's push target or change it; returns (target, created).

    A new target's ``secret`` is readable on the returned instance this once.
    """
    target = lock_objects.target_for_update(organization).first()
    created = target is None
    if created:
        if url is None:
            raise ValidationFailed(
                "url is required to create the sync target.",
                fields={"url": ["This field is required."]},
            )
        _url_validate(url)
        target = SyncTarget(
            organization=organization,
            url=url,
            enabled=True if enabled is None else enabled,
            secret=transport.secret_generate(),
        )
        try:
            with transaction.atomic():
                target.save(force_insert=True)
        except IntegrityError:  # created concurrently: update that one instead
            return sync_target_save(organization=organization, url=url, enabled=enabled)[0], False
    else:
        if url is not None and url != target.url:
            _url_validate(url)
            target.url = url
        if enabled is not None:
            target.enabled = enabled
        target.save()
    if target.enabled:
        _sync_kick_on_commit(organization)
    return target, created


@transaction.atomic
def sync_target_rotate_secret(*, target: SyncTarget) -> SyncTarget:
    """A new secret; the old one still signs (beside the new) for ``SECRET_OVERLAP``."""
    target = lock_objects.target_for_update(target.organization_id).get(pk=target.pk)
    target.previous_secret = target.secret
    target.previous_secret_expires_at = timezone.now() + SECRET_OVERLAP
    target.secret = transport.secret_generate()
    target.save()
    return target


@transaction.atomic
def sync_target_delete(*, target: SyncTarget) -> None:
    """Stop pushing; integrations pull approved changes through the API instead."""
    target.delete()


def signing_secrets(target: SyncTarget, *, now=None) -> list[str]:
    now = now or timezone.now()
    secrets_ = [target.secret]
    expires = target.previous_secret_expires_at
    if target.previous_secret and expires is not None and expires > now:
        secrets_.append(target.previous_secret)
    return secrets_


# --- push sync ------------------------------------------------------------------------------


@dataclass
class SyncRun:
    """The outcome of one ``changes_sync`` run."""

    ran: bool = False
    batches: int = 0
    synced: int = 0
    failed: int = 0
    error: str = ""
    more: bool = False  # stopped at the batch limit with changes left
    next_run_in: timedelta | None = None  # a retry is due then


def sync_kick(organization_id) -> None:
    from reconciliation.tasks import sync_organization_task

    try:
        sync_organization_task.apply_async(args=[organization_id], retry=False)
    except Exception as exc:
        logger.warning("sync of organization %s not queued (%s); beat will", organization_id, exc)


def _sync_kick_on_commit(organization) -> None:
    organization_id = getattr(organization, "pk", organization)
    if SyncTarget.objects.for_org(organization_id).filter(enabled=True).exists():
        transaction.on_commit(lambda: sync_kick(organization_id))


def _target_claim(organization_id) -> tuple[SyncTarget, uuid.UUID] | None:
    """Take the organization's sync lease: one run at a time keeps batches in order."""
    with transaction.atomic():
        target = lock_objects.target_claimable(organization_id).first()
        now = timezone.now()
        if target is None or (target.locked_until is not None and target.locked_until > now):
            return None
        token = uuid.uuid4()
        target.locked_until = now + LEASE
        target.lease_token = token
        target.save(update_fields=["locked_until", "lease_token"])
        return target, token


def _target_extend(target: SyncTarget, token) -> SyncTarget | None:
    """Renew the run's lease; the target as it is now, or None when it was disabled, deleted
    or taken over (a changed URL or secret applies from the next batch on)."""
    held = SyncTarget.objects.filter(pk=target.pk, lease_token=token, enabled=True)
    if not held.update(locked_until=timezone.now() + LEASE):
        return None
    return held.first()


def _target_release(target: SyncTarget, token) -> None:
    SyncTarget.objects.filter(pk=target.pk, lease_token=token).update(
        locked_until=None, lease_token=None
    )


def _batch_claim(organization_id) -> tuple[list[AccountingChange], uuid.UUID, object]:
    """Lease the next approved changes in sequence order, up to the first still backing off.

    Returns (changes, lease token, when the first waiting change is due or None).
    """
    with transaction.atomic():
        now = timezone.now()
        rows = list(lock_objects.changes_claimable(organization_id, now=now, limit=SYNC_BATCH))
        due, waiting_until = [], None
        for change in rows:
            if change.next_attempt_at is not None and change.next_attempt_at > now + DUE_TOLERANCE:
                waiting_until = change.next_attempt_at
                break
            due.append(change)
        token = uuid.uuid4()
        if due:
            AccountingChange.objects.filter(pk__in=[change.pk for change in due]).update(
                locked_until=now + LEASE,
                lease_token=token,
                attempts=F("attempts") + 1,  # counted when sent: a killed worker still counts
                updated_at=now,
            )
        return due, token, waiting_until


def _json_safe(data):
    return json.loads(json.dumps(data, cls=JSONEncoder))


def _batch_send(target: SyncTarget, changes: list[AccountingChange]) -> transport.AttemptResult:
    now = timezone.now()
    batch_id = f"sync_{uuid.uuid4().hex}"
    body = transport.body_encode(
        {
            "id": batch_id,
            "type": BATCH_EVENT_TYPE,
            "created_at": now.isoformat(),
            "data": {
                "organization_id": target.organization_id,
                "changes": _json_safe([render_change(change) for change in changes]),
            },
        }
    )
    headers = transport.signed_headers(
        secrets_=signing_secrets(target, now=now),
        msg_id=batch_id,
        body=body,
        timestamp=int(now.timestamp()),
    )
    return transport.post(target.url, body=body, headers=headers)


def _result_error(result: transport.AttemptResult) -> str:
    if result.error:
        return result.error
    text = f"HTTP {result.status_code}"
    if 300 <= (result.status_code or 0) < 400:
        return text + ": redirects are not followed."
    snippet = result.response_snippet.strip()
    return f"{text}: {snippet[:300]}" if snippet else text


@transaction.atomic
def _batch_finish(
    target: SyncTarget, ids: list, token, result: transport.AttemptResult, run: SyncRun
) -> None:
    """Record one POST's outcome on the changes this run still holds."""
    now = timezone.now()
    changes = lock_objects.leased_changes_for_update(target.organization_id, ids, token=token)
    changes.sort(key=lambda change: change.sequence)
    if result.succeeded:
        for change in changes:
            if change.status in SYNCED_FROM:
                _mark_synced(change, now=now)
                run.synced += 1
        SyncTarget.objects.filter(pk=target.pk).update(last_success_at=now, last_error="")
        return
    error = _result_error(result)
    run.error = error
    retry_at = None
    for change in changes:
        if change.status != Status.APPROVED:
            continue  # reported by an integration meanwhile
        if change.attempts >= MAX_ATTEMPTS:
            _mark_failed(
                change, now=now, error=f"Gave up after {change.attempts} attempts: {error}"
            )
            run.failed += 1
            continue
        change.next_attempt_at = now + RETRY_DELAYS[change.attempts - 1]
        change.error_message = error
        change.locked_until = None
        change.lease_token = None
        change.save(
            update_fields=[
                "next_attempt_at",
                "error_message",
                "locked_until",
                "lease_token",
                "updated_at",
            ]
        )
        retry_at = min(retry_at or change.next_attempt_at, change.next_attempt_at)
    if retry_at is not None:
        run.next_run_in = retry_at - now
    SyncTarget.objects.filter(pk=target.pk).update(last_failure_at=now, last_error=error)


def changes_sync(*, organization_id: int) -> SyncRun:
    """Push the organization's approved changes to its sync target, in sequence order.

    Batches of ``SYNC_BATCH``; a 2xx marks the batch synced, anything else counts an attempt
    on each change and backs off (``RETRY_DELAYS``) until ``MAX_ATTEMPTS``, then marks it
    failed with the error. A change is sent by one worker at a time: runs take the target's
    lease, and each batch leases its changes (``select_for_update(skip_locked=True)``).
    """
    run = SyncRun()
    claimed = _target_claim(organization_id)
    if claimed is None:
        return run
    target, token = claimed
    claimed_target = target
    run.ran = True
    try:
        for _ in range(SYNC_BATCHES_PER_RUN):
            changes, lease, waiting_until = _batch_claim(organization_id)
            if not changes:
                if waiting_until is not None:
                    run.next_run_in = max(waiting_until - timezone.now(), timedelta(0))
                return run
            result = _batch_send(target, changes)
            run.batches += 1
            _batch_finish(target, [change.pk for change in changes], lease, result, run)
            if not result.succeeded:
                return run
            target = _target_extend(target, token)
            if target is None:
                return run
        run.more = True
        return run
    finally:
        _target_release(claimed_target, token)


def changes_sync_due() -> list[int]:
    """Beat: the organizations with an enabled target, no run going, and changes to send."""
    now = timezone.now()
    sendable = AccountingChange.objects.filter(
        organization_id=OuterRef("organization_id"), status=Status.APPROVED
    ).filter(
        Q(next_attempt_at__isnull=True) | Q(next_attempt_at__lte=now),
        Q(locked_until__isnull=True) | Q(locked_until__lt=now),
    )
    organization_ids = list(
        SyncTarget.objects.filter(enabled=True)
        .filter(Q(locked_until__isnull=True) | Q(locked_until__lt=now))
        .filter(Exists(sendable))
        .values_list("organization_id", flat=True)
    )
    for organization_id in organization_ids:
        sync_kick(organization_id)
    return organization_ids
