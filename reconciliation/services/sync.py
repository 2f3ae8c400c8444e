"""The accounting sync: approved changes reach the general ledger by pull or by push.

Pull: integrations list approved changes and report them (``changes_sync_status``:
``mark_synced``/``mark_failed``); a failed change can be queued again (``change_retry``).
Push: ``changes_sync`` POSTs batches, signed (``arpilot.outbound``), to the organization's
sync target (``sync_target_save``/``_rotate_secret``/``_delete``), in sequence order.
"""

import logging
import uuid
from dataclasses import dataclass
from datetime import timedelta

from django.db import IntegrityError, transaction
from django.db.models import Exists, F, OuterRef, Q
from django.utils import timezone

from arpilot.errors import Conflict, ValidationFailed
from arpilot.outbound import signing, ssrf, transport
from arpilot.queueing import task_send
from reconciliation import lock_objects
from reconciliation.models import AccountingChange, SyncTarget
from reconciliation.rendering import render_change
from reconciliation.services.common import (
    SYNCED_FROM,
    BatchResult,
    Status,
    _emit,
    _unique,
    _wrong_status,
)

logger = logging.getLogger(__name__)

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
BATCH_EVENT_TYPE = "accounting_changes.batch"

# The secrets that sign a batch for the target now (one rule for every signed POST).
signing_secrets = signing.signing_secrets


# --- reported by integrations ---------------------------------------------------------------


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
        ssrf.url_validate(url)
        target = SyncTarget(
            organization=organization,
            url=url,
            enabled=True if enabled is None else enabled,
            secret=signing.secret_generate(),
        )
        try:
            with transaction.atomic():
                target.save(force_insert=True)
        except IntegrityError:  # created concurrently: update that one instead
            return sync_target_save(organization=organization, url=url, enabled=enabled)[0], False
    else:
        if url is not None and url != target.url:
            ssrf.url_validate(url)
            target.url = url
        if enabled is not None:
            target.enabled = enabled
        target.save()
    if target.enabled:
        _sync_kick_on_commit(organization)
    return target, created


@transaction.atomic
def sync_target_rotate_secret(*, target: SyncTarget) -> SyncTarget:
    """A new secret; the old one still signs (beside the new) for ``signing.SECRET_OVERLAP``."""
    target = lock_objects.target_for_update(target.organization_id).get(pk=target.pk)
    signing.secret_rotate(target)
    target.save()
    return target


@transaction.atomic
def sync_target_delete(*, target: SyncTarget) -> None:
    """Stop pushing; integrations pull approved changes through the API instead."""
    target.delete()


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
    # Import cycle: reconciliation.tasks imports these services (its tasks call them).
    from reconciliation.tasks import sync_organization_task

    task_send(sync_organization_task, args=[organization_id], later="the beat sweeper will")


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


def _batch_send(target: SyncTarget, changes: list[AccountingChange]) -> transport.AttemptResult:
    now = timezone.now()
    batch_id = f"sync_{uuid.uuid4().hex}"
    body = signing.body_encode(
        {
            "id": batch_id,
            "type": BATCH_EVENT_TYPE,
            "created_at": now.isoformat(),
            "data": {
                "organization_id": target.organization_id,
                "changes": signing.json_safe([render_change(change) for change in changes]),
            },
        }
    )
    headers = signing.signed_headers(
        secrets_=signing.signing_secrets(target, now=now),
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
