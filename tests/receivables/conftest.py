import pytest

from tests.factories import CustomerFactory


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org, company_name="Acme Corp", address="1 Main St")


@pytest.fixture
def other_customer(other_org):
    return CustomerFactory(organization=other_org, company_name="Globex")
