from celery import shared_task

from reconciliation import services


@shared_task(name="reconciliation.tasks.sync_organization")
def sync_organization_task(organization_id: int) -> dict:
    """Push the organization's approved changes (idempotent: a second run finds the lease or
    nothing to send); schedules its own continuation or retry."""
    run = services.changes_sync(organization_id=organization_id)
    # Only after sending something: a run that found nothing due leaves it to beat, so an
    # eager (inline) task can never loop on a change that is backing off.
    if run.batches:
        if run.more:
            sync_organization_task.apply_async(args=[organization_id])
        elif run.next_run_in is not None:
            countdown = max(run.next_run_in.total_seconds(), 1.0)
            sync_organization_task.apply_async(args=[organization_id], countdown=countdown)
    return {"batches": run.batches, "synced": run.synced, "failed": run.failed}


@shared_task(name="reconciliation.tasks.sync_due")
def sync_due_task() -> int:
    """Beat, every minute: start a sync for each organization with changes to push."""
    return len(services.changes_sync_due())
