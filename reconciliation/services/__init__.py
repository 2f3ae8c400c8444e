"""Accounting changes, their lifecycle, and the accounting sync: the app's public services.

Every money event of a lower app (``arpilot.hooks.MoneyMoved``) becomes a ``pending``
accounting change in the same transaction (``change_record_from_event``). A clerk approves it
(marking the payment reviewed, ``POST /reconciliation/approve``, the admin) or rejects it
(rejecting a payment application unapplies it). Approved changes reach the general ledger
either by pull (integrations list them and report ``mark_synced``/``mark_failed``) or by push
(``changes_sync``: a signed POST of batches to the organization's sync target).

- ``changes``: recording, approval (numbering, maker-checker) and rejection;
- ``sync``: pull reports and retries, the sync target, the push sync;
- ``common``: what both share (``BatchResult``, status names, the emitted events).
"""

from arpilot.outbound.signing import SECRET_OVERLAP
from reconciliation.services.changes import (
    SEQUENCE_NAME,
    change_record_from_event,
    changes_approve,
    changes_approve_for_payment,
    changes_reject,
)
from reconciliation.services.common import (
    REJECTABLE,
    SYNCED_FROM,
    BatchResult,
    ChangeType,
    Status,
)
from reconciliation.services.sync import (
    BATCH_EVENT_TYPE,
    DEFAULT_FAILURE,
    DUE_TOLERANCE,
    LEASE,
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    SYNC_ACTIONS,
    SYNC_BATCH,
    SYNC_BATCHES_PER_RUN,
    SyncRun,
    change_retry,
    changes_retry,
    changes_sync,
    changes_sync_due,
    changes_sync_status,
    signing_secrets,
    sync_kick,
    sync_target_delete,
    sync_target_rotate_secret,
    sync_target_save,
)

__all__ = [
    "BATCH_EVENT_TYPE",
    "DEFAULT_FAILURE",
    "DUE_TOLERANCE",
    "LEASE",
    "MAX_ATTEMPTS",
    "REJECTABLE",
    "RETRY_DELAYS",
    "SECRET_OVERLAP",
    "SEQUENCE_NAME",
    "SYNCED_FROM",
    "SYNC_ACTIONS",
    "SYNC_BATCH",
    "SYNC_BATCHES_PER_RUN",
    "BatchResult",
    "ChangeType",
    "Status",
    "SyncRun",
    "change_record_from_event",
    "change_retry",
    "changes_approve",
    "changes_approve_for_payment",
    "changes_reject",
    "changes_retry",
    "changes_sync",
    "changes_sync_due",
    "changes_sync_status",
    "signing_secrets",
    "sync_kick",
    "sync_target_delete",
    "sync_target_rotate_secret",
    "sync_target_save",
]
