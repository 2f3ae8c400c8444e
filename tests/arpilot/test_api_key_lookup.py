"""API key authentication reads the key with a statement compiled once (arpilot/api/
authentication.py): the same one statement, the same key and organization as the ORM's
``get_from_key``, and nothing remembered between requests (a revoked key is refused at once)."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from arpilot import services
from arpilot.api.authentication import api_key_from_key
from arpilot.models import OrganizationAPIKey

pytestmark = pytest.mark.django_db


def _client(key: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    return client


def _fields(instance) -> dict:
    return {f.attname: getattr(instance, f.attname) for f in instance._meta.concrete_fields}


def test_the_key_and_its_organization_are_the_orm_s(org):
    api_key, key = services.api_key_create(organization=org, name="lookup")
    expected = OrganizationAPIKey.objects.get_from_key(key)
    found = api_key_from_key(key)
    assert found.pk == api_key.pk
    assert _fields(found) == _fields(expected)
    assert _fields(found.organization) == _fields(expected.organization)
    assert found._state.adding is False and found._state.db == expected._state.db
    with CaptureQueriesContext(connection) as captured:
        assert api_key_from_key(key).organization.name == org.name  # joined: no second read
    assert len(captured) == 1


@pytest.mark.parametrize("mangle", ["secret", "prefix", "no dot"])
def test_a_wrong_key_is_not_found(org, mangle):
    _, key = services.api_key_create(organization=org, name="lookup")
    prefix, _, secret = key.partition(".")
    wrong = {
        "secret": f"{prefix}.{secret[:-1]}{'A' if secret[-1] != 'A' else 'B'}",
        "prefix": f"{prefix[:-1]}{'A' if prefix[-1] != 'A' else 'B'}.{secret}",
        "no dot": prefix + secret,
    }[mangle]
    with pytest.raises(OrganizationAPIKey.DoesNotExist):
        api_key_from_key(wrong)
    assert _client(wrong).get("/api/v1/customers").status_code == 401


def test_revoked_between_requests_is_refused_at_once(org):
    api_key, key = services.api_key_create(organization=org, name="lookup")
    client = _client(key)
    assert client.get("/api/v1/customers").status_code == 200
    api_key.revoked = True
    api_key.save()
    response = client.get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "Invalid or revoked API key."


def test_expired_is_refused(org):
    api_key, key = services.api_key_create(organization=org, name="lookup")
    OrganizationAPIKey.objects.filter(pk=api_key.pk).update(
        expiry_date=timezone.now() - timedelta(minutes=1)
    )
    response = _client(key).get("/api/v1/customers")
    assert response.status_code == 401
    assert response.json()["error"]["message"] == "This API key has expired."
    OrganizationAPIKey.objects.filter(pk=api_key.pk).update(
        expiry_date=timezone.now() + timedelta(days=1)
    )
    assert _client(key).get("/api/v1/customers").status_code == 200


def test_each_key_is_its_own_organization_s(org, other_org):
    _, key = services.api_key_create(organization=org, name="ours")
    _, other_key = services.api_key_create(organization=other_org, name="theirs")
    assert api_key_from_key(key).organization == org
    assert api_key_from_key(other_key).organization == other_org
