from celery import shared_task

from arpilot import services


@shared_task(name="arpilot.tasks.idempotency_keys_purge")
def idempotency_keys_purge_task() -> int:
    return services.idempotency_keys_purge()
