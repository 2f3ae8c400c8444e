import pytest
from django.test import Client

from arpilot import services as org_services
from arpilot.models import Membership


def _member(org, username: str, role: str):
    user = org_services.user_create(username=username, password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=role)
    return user


def _browser(user) -> Client:
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def clerk(org):
    return _member(org, "alice", Membership.Role.CLERK)


@pytest.fixture
def ui(clerk) -> Client:
    """A browser-like client signed in as a clerk of ``org`` (CSRF checks on)."""
    return _browser(clerk)


@pytest.fixture
def admin(org):
    return _member(org, "ada", Membership.Role.ADMIN)


@pytest.fixture
def admin_ui(admin) -> Client:
    """A browser-like client signed in as an admin of ``org`` (CSRF checks on)."""
    return _browser(admin)


@pytest.fixture
def other_ui(other_org) -> Client:
    user = org_services.user_create(username="bob", password="correct-horse-battery")
    org_services.membership_add(organization=other_org, user=user)
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def endpoint(org, settings):
    """A webhook endpoint of ``org`` (loopback URLs allowed as in local development)."""
    from webhooks import services as webhook_services

    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    return webhook_services.endpoint_create(
        organization=org, url="http://127.0.0.1:9/hook", events=["invoice.paid"]
    )


# The browser tests' fixtures (Chromium via Playwright), shared by every tests/ui/test_browser*.py.
from tests.ui.browser_kit import (  # noqa: E402,F401
    _allow_orm_beside_playwright_loop,
    browser,
    clerk_book,
    page,
)
