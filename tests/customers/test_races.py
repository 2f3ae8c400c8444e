"""Concurrent creates meet at the database's unique constraints: one wins, the rest are 409
naming the winner (``existing_id``), never a 500. Real concurrency needs PostgreSQL."""

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection, connections
from rest_framework.test import APIClient

from arpilot import services as org_services
from customers.models import Contact, Customer, Tag
from tests.customers.factories import customer_payload
from tests.factories import ContactFactory, CustomerFactory

THREADS = 12

needs_postgresql = pytest.mark.skipif(
    connection.vendor != "postgresql", reason="needs PostgreSQL concurrency"
)


def _run_concurrently(calls) -> list:
    """Run the callables at once (released together), each closing its connection."""
    barrier = threading.Barrier(len(calls))

    def run(call):
        try:
            with contextlib.suppress(threading.BrokenBarrierError):
                barrier.wait(timeout=10)
            return call()
        finally:
            connections.close_all()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return list(pool.map(run, calls))


@pytest.fixture
def client_key(org):
    _, key = org_services.api_key_create(organization=org, name="races")
    return key


def _request(key, method: str, path: str, body: dict):
    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        client.raise_request_exception = False
        response = getattr(client, method)(path, body, format="json")
        return response.status_code, response.json()

    return call


def _one_winner(results, winner_status: int):
    statuses = sorted(status for status, _ in results)
    assert statuses == [winner_status] + [409] * (len(results) - 1), results
    winner = next(body for status, body in results if status == winner_status)
    losers = [body["error"] for status, body in results if status == 409]
    assert all(error["code"] == "conflict" for error in losers)
    return winner["data"]["id"], losers


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_concurrent_identical_customer_creates_give_one_201_and_409s(org, client_key):
    calls = [
        _request(client_key, "post", "/api/v1/customers", customer_payload(customer_id="C-1"))
        for _ in range(THREADS)
    ]

    created_id, losers = _one_winner(_run_concurrently(calls), 201)

    assert all(error["existing_id"] == created_id for error in losers)
    assert all("customer_id" in error["fields"] for error in losers)
    assert Customer.objects.filter(organization=org).count() == 1
    assert Tag.objects.filter(organization=org).count() == 1


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_concurrent_creates_of_one_tag_name_in_any_case_give_one_201(org, client_key):
    names = ["Acme", "acme", "ACME"]
    calls = [
        _request(client_key, "post", "/api/v1/tags", {"name": names[i % len(names)]})
        for i in range(THREADS)
    ]

    created_id, losers = _one_winner(_run_concurrently(calls), 201)

    assert all(error["existing_id"] == created_id for error in losers)
    assert Tag.objects.filter(organization=org).count() == 1


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_concurrent_renames_onto_one_customer_id_give_one_200(org, client_key):
    customers = CustomerFactory.create_batch(THREADS, organization=org)
    calls = [
        _request(client_key, "patch", f"/api/v1/customers/{c.pk}", {"customer_id": "SAME"})
        for c in customers
    ]

    winner_id, losers = _one_winner(_run_concurrently(calls), 200)

    assert all(error["existing_id"] == winner_id for error in losers)
    assert list(
        Customer.objects.filter(organization=org, external_id="SAME").values_list("pk", flat=True)
    ) == [Customer.objects.get(pk=winner_id).pk]


@pytest.mark.django_db(transaction=True)
@needs_postgresql
def test_concurrent_primary_contact_creates_leave_one_primary(org, client_key):
    customer = CustomerFactory(organization=org)
    ContactFactory(customer=customer, is_primary=True)
    calls = [
        _request(
            client_key,
            "post",
            "/api/v1/contacts",
            {
                "customer_id": str(customer.pk),
                "contact_name": f"Contact {i}",
                "email": f"c{i}@example.com",
                "is_primary": True,
            },
        )
        for i in range(THREADS)
    ]

    results = _run_concurrently(calls)

    assert [status for status, _ in results] == [201] * THREADS, results
    assert Contact.objects.filter(customer=customer, is_primary=True).count() == 1


@pytest.mark.django_db
def test_a_new_primary_before_an_update_of_the_old_primary_is_not_a_500(api, org):
    """The old primary, read before the new one cleared it, must not be written back."""
    response = api.post("/api/v1/customers", customer_payload(), format="json")
    old = response.json()["data"]["contacts"][0]
    assert old["is_primary"]

    response = api.patch(
        f"/api/v1/customers/{response.json()['data']['id']}",
        {
            "contacts": [
                {"contact_name": "New Boss", "email": "boss@acme.example", "is_primary": True},
                {"id": old["id"], "title": "Former primary"},
            ]
        },
        format="json",
    )

    assert response.status_code == 200, response.content
    contacts = {c["contact_name"]: c for c in response.json()["data"]["contacts"]}
    assert contacts["New Boss"]["is_primary"] is True
    assert contacts[old["contact_name"]]["is_primary"] is False
    assert contacts[old["contact_name"]]["title"] == "Former primary"


@pytest.mark.django_db
def test_tag_name_clash_is_409_with_existing_id(api, org):
    tag = Tag.objects.create(organization=org, name="Acme")

    created = api.post("/api/v1/tags", {"name": "ACME"}, format="json")
    other = Tag.objects.create(organization=org, name="Other")
    renamed = api.patch(f"/api/v1/tags/{other.pk}", {"name": "acme"}, format="json")

    for response in (created, renamed):
        assert response.status_code == 409
        assert response.json()["error"]["code"] == "conflict"
        assert response.json()["error"]["existing_id"] == str(tag.pk)
        assert response.json()["error"]["fields"] == {
            "name": ["A tag with this name already exists."]
        }
