import pytest

from tests.factories import ContactFactory, CustomerFactory
from tests.worker import celery_worker_factory  # noqa: F401


@pytest.fixture
def customer(org):
    customer = CustomerFactory(organization=org, company_name="Acme Corp", external_id="C-7788")
    ContactFactory(organization=org, customer=customer, contact_name="Wile Coyote")
    return customer


@pytest.fixture
def other_customer(other_org):
    return CustomerFactory(organization=other_org, company_name="Globex")


@pytest.fixture
def money_events(settings):
    """Record every arpilot.hooks.MoneyMoved event (instead of the reconciliation app)."""
    from tests.payments import recorders

    recorders.EVENTS.clear()
    settings.ARPILOT_HOOK_RECEIVERS = {
        **settings.ARPILOT_HOOK_RECEIVERS,
        "MoneyMoved": ["tests.payments.recorders.record_money_event"],
    }
    yield recorders.EVENTS
    recorders.EVENTS.clear()
