"""``event_wanted``: whether ``event_emit`` would store an event, asked before rendering it."""

import pytest

from webhooks import services
from webhooks.models import WebhookEvent

pytestmark = pytest.mark.django_db


def _wanted_and_stored(org, event_type: str) -> tuple[bool, bool]:
    wanted = services.event_wanted(org.pk, event_type)
    event = services.event_emit(organization_id=org.pk, event_type=event_type, data={})
    return wanted, event is not None


def test_an_event_is_wanted_by_an_endpoint_subscribed_to_everything(org, endpoint):
    assert services.event_wanted(org.pk, "payment.imported") is True
    assert services.event_wanted(org, "invoice.paid") is True  # an organization will do too


def test_an_event_is_wanted_exactly_when_event_emit_stores_it(org, receiver, insecure):
    services.endpoint_create(organization=org, url=receiver.url, events=["invoice.paid"])

    assert _wanted_and_stored(org, "invoice.paid") == (True, True)
    assert _wanted_and_stored(org, "payment.imported") == (False, False)
    assert WebhookEvent.objects.count() == 1


def test_no_event_is_wanted_without_an_endpoint_or_by_a_paused_one(org, endpoint):
    services.endpoint_update(endpoint=endpoint, is_active=False)

    assert _wanted_and_stored(org, "invoice.paid") == (False, False)


def test_another_organizations_endpoint_does_not_want_it(org, other_org, endpoint):
    assert services.event_wanted(other_org.pk, "invoice.paid") is False


def test_an_unknown_event_type_is_refused_as_by_event_emit(org, endpoint):
    with pytest.raises(ValueError, match="Unknown webhook event type"):
        services.event_wanted(org.pk, "invoice.paied")
