import logging

import pytest
from django.test import Client

from arpilot import services as org_services
from arpilot.email_url import SMTP_BACKEND
from arpilot.models import Membership
from tests.mail.smtp_server import SMTPServer
from tests.worker import celery_worker_factory, celery_worker_process  # noqa: F401


@pytest.fixture
def smtp_server():
    """A real SMTP server on a free local port, for this test only."""
    logging.getLogger("mail.log").setLevel(logging.WARNING)  # aiosmtpd's every command
    server = SMTPServer().start()
    yield server
    server.stop()


@pytest.fixture
def smtp(settings, smtp_server) -> SMTPServer:
    """Email goes over SMTP to ``smtp_server`` (as with EMAIL_URL=smtp://127.0.0.1:port/)."""
    settings.EMAIL_BACKEND = SMTP_BACKEND
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = smtp_server.port
    settings.EMAIL_HOST_USER = settings.EMAIL_HOST_PASSWORD = ""
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 5
    return smtp_server


def _signed_in(org, username: str, role=Membership.Role.CLERK) -> Client:
    user = org_services.user_create(username=username, password="correct-horse-battery")
    org_services.membership_add(organization=org, user=user, role=role)
    client = Client(enforce_csrf_checks=True)
    client.force_login(user)
    return client


@pytest.fixture
def ui(org) -> Client:
    """A browser-like client signed in as a clerk of ``org`` (CSRF checks on)."""
    return _signed_in(org, "alice")


@pytest.fixture
def other_ui(other_org) -> Client:
    """A clerk of another organization."""
    return _signed_in(other_org, "bob")
