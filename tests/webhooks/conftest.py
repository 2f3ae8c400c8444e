import ipaddress

import pytest

from arpilot.outbound import ssrf
from tests.webhooks.receiver import Receiver
from tests.worker import celery_worker_factory, celery_worker_process  # noqa: F401
from webhooks import services
from webhooks.services import queueing

PUBLIC_IP = "93.184.215.14"


@pytest.fixture(autouse=True)
def _broker_up(monkeypatch):
    """Each test starts with the broker presumed up (no back-off left by an earlier test)."""
    monkeypatch.setattr(queueing, "_broker_down_until", 0.0)


@pytest.fixture
def receiver():
    """A local HTTP receiver; its URL is accepted because tests allow insecure webhooks."""
    server = Receiver().start()
    yield server
    server.stop()


@pytest.fixture
def insecure(settings):
    """Plain HTTP and loopback allowed, as in local development."""
    settings.ARPILOT_WEBHOOKS_ALLOW_INSECURE = True
    return settings


@pytest.fixture
def dns(monkeypatch):
    """A fake resolver for registration checks (no DNS in CI): ``dns["host"] = ["1.2.3.4"]``."""
    table: dict[str, list[str]] = {"hooks.example.com": [PUBLIC_IP]}

    def resolve(host, port):
        if host not in table:
            raise ssrf.UnsafeURL(f"The host {host!r} does not resolve.")
        return [ipaddress.ip_address(address) for address in table[host]]

    monkeypatch.setattr(ssrf, "resolve_host", resolve)
    return table


@pytest.fixture
def endpoint(org, receiver, insecure):
    """An active endpoint of ``org`` subscribed to everything, pointing at ``receiver``."""
    return services.endpoint_create(organization=org, url=receiver.url, events=["*"])
