import pytest

from tests.factories import CustomerFactory
from tests.receivables.factories import make_invoice
from tests.webhooks.receiver import Receiver


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org, company_name="Acme Corp", external_id="ACME-1")


@pytest.fixture
def invoice(org, customer):
    return make_invoice(org, customer=customer, amount="100.00", invoice_number="INV-1042")


@pytest.fixture
def other_invoice(other_org):
    return make_invoice(other_org, amount="50.00", invoice_number="GLX-1")


@pytest.fixture
def insecure(settings):
    """Plain HTTP and loopback targets allowed, as in local development."""
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    return settings


@pytest.fixture
def receiver():
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def target(org, receiver, insecure):
    """An enabled sync target of ``org`` pointing at the local receiver."""
    from reconciliation import services

    target, _ = services.sync_target_save(organization=org, url=receiver.url)
    return target
