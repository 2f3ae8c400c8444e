"""The event outbox: events and their deliveries, written in the caller's transaction.

Domain apps call ``event_emit`` inside their own transaction: the event and one delivery per
subscribed active endpoint are written with their change, and after commit a send task is
queued per endpoint (``queueing``). ``event_wanted`` tells a caller whether an event would be
stored at all, so it can skip rendering one nobody subscribes to.
"""

import json

from django.db import transaction
from django.utils import timezone

from arpilot.actors import current_request
from arpilot.compiled import CompiledRows, organization_slot
from arpilot.outbound.signing import json_safe
from webhooks.events import EVENT_TYPES
from webhooks.models import (
    SUBSCRIPTIONS_MEMO,
    WebhookDelivery,
    WebhookEndpoint,
    WebhookEvent,
    events_include,
)
from webhooks.services.queueing import _send_on_commit


def _event_type_check(event_type: str) -> None:
    if event_type not in EVENT_TYPES:
        raise ValueError(f"Unknown webhook event type {event_type!r}")


# Every write request asks it: compiled once (``arpilot.compiled``).
_ACTIVE_EVENTS = CompiledRows(
    WebhookEndpoint,
    lambda organization: (
        WebhookEndpoint.objects.for_org(organization).filter(is_active=True).values_list("events")
    ),
    organization_slot(),
)


def _subscriptions(organization_id) -> list[list]:
    """The ``events`` of each of the organization's active endpoints, read once per request:
    a write request asks several times (one per event it might emit). The memo lives on the
    request and is dropped when an endpoint is saved, updated or deleted
    (``models.subscriptions_forget``);
    outside a request (tasks) every call reads."""
    org_id = getattr(organization_id, "pk", organization_id)
    request = current_request()
    memo = getattr(request, SUBSCRIPTIONS_MEMO, None) if request is not None else None
    if memo is not None and org_id in memo:
        return memo[org_id]
    endpoints = [events for (events,) in _ACTIVE_EVENTS.rows(organization=org_id)]
    if request is not None:
        if memo is None:
            memo = {}
            setattr(request, SUBSCRIPTIONS_MEMO, memo)
        memo[org_id] = endpoints
    return endpoints


def event_wanted(organization_id, event_type: str) -> bool:
    """Whether any active endpoint of the organization subscribes to ``event_type`` (so
    ``event_emit`` would store the event): render an event's data only when it is wanted."""
    _event_type_check(event_type)
    return any(events_include(events, event_type) for events in _subscriptions(organization_id))


def events_wanted(organization_id, event_types) -> list[str]:
    """The ``event_types`` some active endpoint of the organization subscribes to, in the
    order given (one query, however many types)."""
    types = list(dict.fromkeys(event_types))
    for event_type in types:
        _event_type_check(event_type)
    if not types:
        return []
    endpoints = _subscriptions(organization_id)
    return [t for t in types if any(events_include(events, t) for events in endpoints)]


def event_emit(*, organization_id: int, event_type: str, data: dict) -> WebhookEvent | None:
    """Record an event for delivery to the organization's subscribed active endpoints.

    Call it inside the transaction of the change: a rollback discards the event too. Returns
    None when no endpoint subscribes (nothing is stored).
    """
    _event_type_check(event_type)
    connection = transaction.get_connection()
    if connection.vendor == "postgresql":
        return _event_record_one_statement(
            connection, organization_id=organization_id, event_type=event_type, data=data
        )
    endpoints = [
        endpoint
        for endpoint in WebhookEndpoint.objects.for_org(organization_id).filter(is_active=True)
        if endpoint.subscribes_to(event_type)
    ]
    if not endpoints:
        return None
    return _event_record(
        organization_id=organization_id, event_type=event_type, data=data, endpoints=endpoints
    )


def _event_new(*, organization_id, event_type, data) -> WebhookEvent:
    event = WebhookEvent(organization_id=organization_id, event_type=event_type)
    event.created_at = event.updated_at = timezone.now()
    event.payload = {
        "id": str(event.id),
        "type": event_type,
        "created_at": event.created_at.isoformat(),
        "data": json_safe(data),
    }
    return event


# Every event of every domain action passes here, so on PostgreSQL finding the subscribed
# endpoints and writing the event and its deliveries is one statement (one round trip, no ORM
# compilation); it writes exactly what ``_event_record`` writes. Only table names and a
# constant are formatted in; every value is a parameter.
_EMIT_SQL = f"""
WITH endpoints AS (
    SELECT id FROM {WebhookEndpoint._meta.db_table}
    WHERE organization_id = %(organization_id)s AND is_active
      AND (events @> '["*"]'::jsonb OR events @> %(event_types)s::jsonb)
), event AS (
    INSERT INTO {WebhookEvent._meta.db_table}
        (id, organization_id, created_at, updated_at, event_type, payload)
    SELECT %(id)s, %(organization_id)s, %(now)s, %(now)s, %(event_type)s, %(payload)s::jsonb
    WHERE EXISTS (SELECT FROM endpoints)
    RETURNING id
)
INSERT INTO {WebhookDelivery._meta.db_table}
    (id, organization_id, created_at, updated_at, endpoint_id, event_id, status,
     attempt_count, next_attempt_at, last_error)
SELECT gen_random_uuid(), %(organization_id)s, %(now)s, %(now)s, endpoints.id, event.id,
    '{WebhookDelivery.Status.PENDING}', 0, %(now)s, ''
FROM endpoints CROSS JOIN event
RETURNING endpoint_id
"""  # noqa: S608


def _event_record_one_statement(connection, *, organization_id, event_type, data):
    event = _event_new(organization_id=organization_id, event_type=event_type, data=data)
    with connection.cursor() as cursor:
        cursor.execute(
            _EMIT_SQL,
            {
                "organization_id": organization_id,
                "event_types": json.dumps([event_type]),
                "id": event.id,
                "now": event.created_at,
                "event_type": event_type,
                "payload": json.dumps(event.payload),
            },
        )
        endpoint_ids = [row[0] for row in cursor.fetchall()]
    if not endpoint_ids:
        return None
    event._state.adding = False
    event._state.db = connection.alias
    for endpoint_id in endpoint_ids:
        _send_on_commit(endpoint_id)
    return event


@transaction.atomic(savepoint=False)  # part of the caller's transaction, no savepoint
def _event_record(*, organization_id, event_type, data, endpoints) -> WebhookEvent:
    event = _event_new(organization_id=organization_id, event_type=event_type, data=data)
    event.save(force_insert=True)
    WebhookDelivery.objects.bulk_create(
        WebhookDelivery(
            organization_id=organization_id,
            endpoint=endpoint,
            event=event,
            next_attempt_at=event.created_at,
        )
        for endpoint in endpoints
    )
    for endpoint in endpoints:
        _send_on_commit(endpoint.pk)
    return event
