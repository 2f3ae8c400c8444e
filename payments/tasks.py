from celery import shared_task
from celery.signals import worker_init

from payments import services
from payments.matching import parallel
from payments.models import Payment


@worker_init.connect
def _rank_in_the_worker_process(**_) -> None:
    """A Celery worker never forks to rank: a process forked from one that has started its
    consumer may wait forever on a lock the fork copied held (the benchmark saw chunk tasks
    on solo workers hang); more workers are how a run uses more cores."""
    parallel.forbid_fork()


@shared_task(name="payments.tasks.payment_import")
def payment_import_task(import_id: str) -> None:
    """Import a stored bank file (idempotent: a finished import is left alone)."""
    services.payment_import_run(import_id=import_id)


@shared_task(name="payments.tasks.payments_match")
def payments_match_task(
    organization_id: int, payment_ids: list | None = None, import_id: str | None = None
) -> int:
    """Match the organization's unmatched payments (those of one import, or the given ids):
    a large run is spread over the workers as chunk tasks."""
    if import_id is not None:
        payment_ids = list(
            Payment.objects.for_org(organization_id)
            .filter(payment_import_id=import_id)
            .values_list("pk", flat=True)
        )
    from payments.services.match_fanout import payments_match_run

    return payments_match_run(organization_id=organization_id, payment_ids=payment_ids).payments


@shared_task(name="payments.tasks.payments_match_chunk")
def payments_match_chunk_task(organization_id: int, payment_ids: list, run_key: str) -> int:
    """One chunk of a large matching run (``payments.services.match_fanout``)."""
    from payments.services.match_fanout import payments_match_chunk

    return payments_match_chunk(
        organization_id=organization_id, payment_ids=payment_ids, run_key=run_key
    )


@shared_task(name="payments.tasks.imports_requeue_stale")
def imports_requeue_stale_task() -> int:
    """Re-queue imports whose task was lost (broker down, worker killed)."""
    return services.payment_imports_requeue_stale()
