"""Task functions end in ``_task``; their registered names (what queued messages and the beat
schedule refer to) stay what they were."""

import importlib

import pytest
from celery import Task

from arpilot.celery import app as celery_app

TASK_MODULES = [
    "arpilot.tasks",
    "payments.tasks",
    "receivables.tasks",
    "reconciliation.tasks",
    "webhooks.tasks",
    "mail.tasks",
    "dunning.tasks",
]

REGISTERED_NAMES = {
    "arpilot.tasks.idempotency_keys_purge": "arpilot.tasks.idempotency_keys_purge_task",
    "payments.tasks.payment_import": "payments.tasks.payment_import_task",
    "payments.tasks.payments_match": "payments.tasks.payments_match_task",
    "payments.tasks.payments_match_chunk": "payments.tasks.payments_match_chunk_task",
    "payments.tasks.imports_requeue_stale": "payments.tasks.imports_requeue_stale_task",
    "receivables.tasks.invoices_mark_overdue": "receivables.tasks.invoices_mark_overdue_task",
    "receivables.tasks.statements_send": "receivables.tasks.statements_send_task",
    "reconciliation.tasks.sync_organization": "reconciliation.tasks.sync_organization_task",
    "reconciliation.tasks.sync_due": "reconciliation.tasks.sync_due_task",
    "webhooks.tasks.send_due": "webhooks.tasks.send_due_task",
    "webhooks.tasks.requeue_due": "webhooks.tasks.requeue_due_task",
    "mail.tasks.send": "mail.tasks.send_task",
    "mail.tasks.requeue_due": "mail.tasks.requeue_due_task",
    "mail.tasks.queue_sends": "mail.tasks.queue_sends_task",
    "dunning.tasks.run": "dunning.tasks.run_task",
    "dunning.tasks.runs_due": "dunning.tasks.runs_due_task",
    "dunning.tasks.promises_check": "dunning.tasks.promises_check_task",
}


def _tasks():
    for module_name in TASK_MODULES:
        module = importlib.import_module(module_name)
        for attr, value in vars(module).items():
            if isinstance(value, Task) and value.__module__ == module_name:
                yield f"{module_name}.{attr}", value


def test_every_task_function_ends_in_task():
    names = [path for path, _ in _tasks()]
    assert names
    assert [path for path in names if not path.endswith("_task")] == []


@pytest.mark.parametrize(("registered", "function"), sorted(REGISTERED_NAMES.items()))
def test_registered_names_are_kept(registered, function):
    module_name, attr = function.rsplit(".", 1)
    task = getattr(importlib.import_module(module_name), attr)
    assert task.name == registered
    assert celery_app.tasks[registered].run.__name__ == attr


def test_every_task_is_pinned_here():
    assert {task.name for _, task in _tasks()} == set(REGISTERED_NAMES)


def test_the_beat_schedule_refers_to_registered_tasks(settings):
    for module_name in TASK_MODULES:
        importlib.import_module(module_name)
    for entry in settings.CELERY_BEAT_SCHEDULE.values():
        assert entry["task"] in celery_app.tasks, entry["task"]
