from celery import shared_task

from arpilot.models import Organization
from arpilot.queueing import task_send
from dunning import services


@shared_task(name="dunning.tasks.run")
def run_task(organization_id: int) -> int:
    """Run one organization's dunning now (safe twice: a level goes once per invoice)."""
    organization = Organization.objects.filter(pk=organization_id).first()
    if organization is None:
        return 0
    return len(services.dunning_run(organization=organization))


@shared_task(name="dunning.tasks.runs_due")
def runs_due_task() -> int:
    """Beat, every 5 minutes: start the run of each organization whose local run_at came."""
    claimed = services.policies_due()
    for organization_id in claimed:
        task_send(run_task, args=[organization_id], later="tomorrow's run will")
    return len(claimed)


@shared_task(name="dunning.tasks.promises_check")
def promises_check_task() -> dict:
    """Beat, hourly: promises paid are kept, those past their local date broken."""
    return services.promises_check()
