"""What the change lifecycle and the sync share: the batch result, the status names, and
the webhook event a transition emits."""

import uuid
from dataclasses import dataclass, field

from reconciliation.models import AccountingChange
from reconciliation.rendering import render_change
from webhooks.services import event_emit

Status = AccountingChange.Status
ChangeType = AccountingChange.ChangeType

SYNCED_FROM = (Status.APPROVED, Status.FAILED)
REJECTABLE = (Status.PENDING, Status.FAILED)


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


def _in_request_order(result: BatchResult, ids: list) -> BatchResult:
    """Reorder ``updated``/``skipped`` as the ids were sent (processing is in lock order)."""
    position = {str(change_id): index for index, change_id in enumerate(ids)}
    result.updated.sort(key=lambda change_id: position[str(change_id)])
    result.skipped.sort(key=lambda item: position[item["id"]])
    return result


def _unique(change_ids) -> list:
    return list(dict.fromkeys(uuid.UUID(str(change_id)) for change_id in change_ids))
