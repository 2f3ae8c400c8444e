import pytest
from django.test import Client

from arpilot import services as org_services
from arpilot.models import Membership
from tests.factories import CustomerFactory


@pytest.fixture
def customer(org):
    return CustomerFactory(organization=org)


@pytest.fixture
def ui(org) -> Client:
    """A browser-like client signed in as a clerk of ``org`` (CSRF checks on)."""
    user = org_services.user_create(username="dora", password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=Membership.Role.CLERK)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client
