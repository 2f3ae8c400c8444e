"""Webhook endpoints, the event outbox and delivery: the webhooks app's public services.

Other apps reach webhooks only through these (``event_emit``, ``event_wanted``, and the
endpoint and delivery functions its API and pages use). The work is split along its seams:

- ``outbox``: events and their deliveries, written in the caller's transaction;
- ``queueing``: send tasks queued after commit (flags, send slots) and the sweeper;
- ``delivery``: leasing, sending and recording batches, retries, disabling an endpoint;
- ``endpoints``: registration, changes, deletion, secret rotation, the test event.

Signing, the SSRF check and the HTTP transport are ``arpilot.outbound``, shared with the
accounting sync push.
"""

from webhooks.services.delivery import (
    MAX_ATTEMPTS,
    RETRY_DELAYS,
    delivery_redeliver,
    endpoint_drain,
    endpoint_send_due,
    retry_delay,
)
from webhooks.services.endpoints import (
    endpoint_create,
    endpoint_delete,
    endpoint_rotate_secret,
    endpoint_send_test,
    endpoint_signing_secrets,
    endpoint_update,
)
from webhooks.services.outbox import event_emit, event_wanted, events_wanted
from webhooks.services.queueing import deliveries_requeue_due

__all__ = [
    "MAX_ATTEMPTS",
    "RETRY_DELAYS",
    "deliveries_requeue_due",
    "delivery_redeliver",
    "endpoint_create",
    "endpoint_delete",
    "endpoint_drain",
    "endpoint_rotate_secret",
    "endpoint_send_due",
    "endpoint_send_test",
    "endpoint_signing_secrets",
    "endpoint_update",
    "event_emit",
    "event_wanted",
    "events_wanted",
    "retry_delay",
]
