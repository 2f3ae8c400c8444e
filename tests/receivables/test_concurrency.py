"""Concurrent identical creates on real PostgreSQL: the database is the judge of uniqueness.

Twelve threads, each with its own connection, released together: one create wins (201, or
200 on the Aplos face), the others get a 409 naming the winner (``existing_id``), never a 500.
"""

import contextlib
import threading

import pytest
from django.db import connection
from rest_framework.test import APIClient

from arpilot import services as org_services
from customers.models import Contact, Customer
from receivables.models import Account, AplosContact, Fund, Invoice
from tests.threads import run_threads

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor != "postgresql", reason="needs PostgreSQL concurrency"),
]

THREADS = 12


@pytest.fixture
def key(org):
    _, key = org_services.api_key_create(organization=org, name="concurrency")
    return key


def _post_all(key, url, body) -> list:
    barrier = threading.Barrier(THREADS)
    results = []
    lock = threading.Lock()

    def call():
        client = APIClient()
        client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
        with contextlib.suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=10)
        response = client.post(url, body, format="json")
        with lock:
            results.append((response.status_code, response.json()))

    errors = run_threads(call, THREADS)
    assert errors == []
    return results


def _one_created_rest_conflict(results, created_status=201):
    statuses = sorted(status for status, _ in results)
    assert statuses == [created_status] + [409] * (THREADS - 1), results
    [winner] = [body for status, body in results if status == created_status]
    for status, body in results:
        if status == 409:
            assert body["error"]["code"] == "conflict", body
            assert body["error"]["existing_id"] == str(winner["data"]["id"]), body
    return winner


def test_concurrent_account_creates_make_one_account(org, key):
    results = _post_all(
        key, "/api/v1/accounts", {"account_number": 4100, "name": "Grants", "type": "income"}
    )

    _one_created_rest_conflict(results)
    assert Account.objects.for_org(org).filter(account_number=4100).count() == 1


def test_concurrent_fund_creates_make_one_fund(org, key):
    results = _post_all(key, "/api/v1/funds", {"name": "Building Fund"})

    _one_created_rest_conflict(results)
    assert Fund.objects.for_org(org).filter(name__iexact="building fund").count() == 1


def test_concurrent_aplos_posts_naming_a_new_company_make_one_customer(org, key):
    body = {"contact": {"companyname": "Brand New Donor"}, "lines": [{"amount": 10}]}
    results = _post_all(key, "/hermes/api/v1/receivables", body)

    assert [status for status, _ in results] == [200] * THREADS, results
    assert Invoice.objects.for_org(org).count() == THREADS
    customer = Customer.objects.for_org(org).get(company_name__iexact="brand new donor")
    assert Invoice.objects.for_org(org).filter(customer=customer).count() == THREADS
    assert AplosContact.objects.for_org(org).filter(customer=customer).count() == 1
    assert Contact.objects.filter(customer=customer).count() == 1
    contact_ids = {body["data"]["receivable"]["contact"]["id"] for _, body in results}
    assert contact_ids == {customer.aplos_contact.id}
