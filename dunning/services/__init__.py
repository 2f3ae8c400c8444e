"""Collections: the collections app's public services, split along their seams:

- ``policy``: the dunning policy (seeded, read, replaced) and ``defaults``;
- ``run``: deciding and queueing a run's reminders, and the daily schedule;
- ``reminders``: a reminder's check right before its email goes;
- ``promises``: promises to pay and the daily kept/broken check;
- ``disputes``: opening and resolving an invoice's dispute;
- ``notes``: notes and logged calls about a customer (its activity timeline);
- ``templating``: the sandboxed template engines of the reminders.
"""

from dunning.services.disputes import dispute_open, dispute_resolve
from dunning.services.notes import note_create
from dunning.services.policy import (
    levels_validate,
    organization_seed,
    policy_get_or_seed,
    policy_update,
)
from dunning.services.promises import promise_create, promise_update, promises_check
from dunning.services.reminders import reminder_before_send
from dunning.services.run import (
    PlannedReminder,
    dunning_plan,
    dunning_run,
    organization_today,
    policies_due,
)

__all__ = [
    "PlannedReminder",
    "dispute_open",
    "dispute_resolve",
    "dunning_plan",
    "dunning_run",
    "levels_validate",
    "note_create",
    "organization_seed",
    "organization_today",
    "policies_due",
    "policy_get_or_seed",
    "policy_update",
    "promise_create",
    "promise_update",
    "promises_check",
    "reminder_before_send",
]
