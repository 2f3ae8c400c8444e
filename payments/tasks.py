from celery import shared_task

from payments import services
from payments.models import Payment


@shared_task(name="payments.tasks.payment_import")
def payment_import_task(import_id: str) -> None:
    """Import a stored bank file (idempotent: a finished import is left alone)."""
    services.payment_import_run(import_id=import_id)


@shared_task(name="payments.tasks.payments_match")
def payments_match_task(
    organization_id: int, payment_ids: list | None = None, import_id: str | None = None
) -> int:
    """Match the organization's unmatched payments (those of one import, or the given ids)."""
    if import_id is not None:
        payment_ids = list(
            Payment.objects.for_org(organization_id)
            .filter(payment_import_id=import_id)
            .values_list("pk", flat=True)
        )
    run = services.payments_match(organization=organization_id, payment_ids=payment_ids)
    return run.payments


@shared_task(name="payments.tasks.imports_requeue_stale")
def imports_requeue_stale_task() -> int:
    """Re-queue imports whose task was lost (broker down, worker killed)."""
    return services.payment_imports_requeue_stale()
