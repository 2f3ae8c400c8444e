import pytest
from rest_framework.test import APIClient

from arpilot import services
from arpilot.celery import app as celery_app


@pytest.fixture(autouse=True)
def _eager_tasks(request):
    """Tasks run inline in tests, except those marked ``celery_worker`` (a real worker)."""
    if request.node.get_closest_marker("celery_worker"):
        yield
        return
    previous = celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates
    celery_app.conf.task_always_eager = True
    celery_app.conf.task_eager_propagates = True
    yield
    celery_app.conf.task_always_eager, celery_app.conf.task_eager_propagates = previous


@pytest.fixture(autouse=True)
def _clear_cache():
    from django.core.cache import cache

    cache.clear()
    yield


@pytest.fixture
def org(db):
    return services.organization_create(name="Acme Receivables")


@pytest.fixture
def other_org(db):
    return services.organization_create(name="Globex Receivables")


def _client_for(organization) -> APIClient:
    _, key = services.api_key_create(organization=organization, name="test")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    client.organization = organization
    return client


@pytest.fixture
def api(org) -> APIClient:
    """An API client authenticated with a key of ``org``."""
    return _client_for(org)


@pytest.fixture
def other_api(other_org) -> APIClient:
    """An API client of a second organization, for isolation tests."""
    return _client_for(other_org)


@pytest.fixture
def anon_api() -> APIClient:
    return APIClient()
