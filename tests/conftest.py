import os
import re

import pytest
from hypothesis import settings as hypothesis_settings
from rest_framework.test import APIClient

from arpilot import services
from arpilot.celery import app as celery_app

# No per-example deadline: the suite runs on every core of a small shared machine, where an
# example that takes 90 ms alone can take 300 ms; speed is measured in bench/, not here.
hypothesis_settings.register_profile("arpilot", deadline=None)
hypothesis_settings.load_profile("arpilot")


def pytest_configure(config):
    """Under pytest-xdist each worker gets a Redis database of its own for the cache: a test
    that empties the cache (FLUSHDB) must not empty another worker's rate-limit counters."""
    worker = os.environ.get("PYTEST_XDIST_WORKER", "")
    if not worker.startswith("gw"):
        return
    from django.conf import settings

    offset = int(worker[2:]) + 1
    for cache in {id(cache): cache for cache in settings.CACHES.values()}.values():
        if cache["BACKEND"].endswith("RedisCache"):
            cache["LOCATION"] = re.sub(
                r"/(\d+)$", lambda m: f"/{(int(m.group(1)) + offset) % 16}", cache["LOCATION"]
            )


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
def _shared_cache_in_memory(request, settings):
    """The embedded default keeps the shared cache (rate-limit counters) in the database;
    tests keep it in memory so pinned query counts are the same on SQLite and PostgreSQL.
    A test marked ``shared_cache`` gets the real one."""
    if request.node.get_closest_marker("shared_cache"):
        return
    if settings.CACHES["shared"]["BACKEND"].endswith("DatabaseCache"):
        settings.CACHES = {
            **settings.CACHES,
            "shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
        }


@pytest.fixture(autouse=True)
def _clear_cache(_shared_cache_in_memory):
    """Each test starts with empty caches. (A database cache, the embedded default's "shared"
    one, empties itself with the test's rollback or flush.)"""
    from django.core.cache import caches
    from django.core.cache.backends.db import DatabaseCache

    for alias in ("default", "shared"):
        if not isinstance(caches[alias], DatabaseCache):
            caches[alias].clear()
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
