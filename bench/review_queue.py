"""The review queue page against the JSON list of the same payments.

Times, in process through the whole stack (middleware, session auth, templates), the clerk's
review queue with 50 unreviewed payments and their suggestions (``GET /payments/review/``)
and the API's list of the same 50 payments with their allocations and suggestions
(``GET /api/v1/payments?reviewed=false&per_page=50``). Prints both medians, their ratio (the
target is < 2) and each request's query count; also the page with its row cache cleared
before every request (every row rendered, as on the first view of new payments).

Writes to the database it is given: it migrates it and creates (once; later runs reuse it)
the organization "Bench Review Queue" with 50 customers, 150 invoices and 50 matched
payments (``bench.book.review_book``):

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/arpilot_ui_bench \
        .venv/bin/python -m bench.review_queue --runs 30
"""

import argparse
import os
import statistics
import time

from bench.book import review_book

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")

ORG_NAME = "Bench Review Queue"
USERNAME = "bench-clerk"
PAYMENTS = 50


def _setup():
    """The organization, its clerk and an API key (the book is built on first use)."""
    from django.core.management import call_command
    from django.utils import timezone

    from arpilot import services as org_services
    from arpilot.models import Membership, Organization
    from customers import services as customer_services
    from payments import services as payment_services
    from payments.models import Payment
    from receivables import services as receivable_services

    call_command("migrate", verbosity=0)
    org = Organization.objects.filter(name=ORG_NAME).first()
    if org is None:
        org = org_services.organization_create(name=ORG_NAME)
        payment_ids = []
        for spec in review_book(PAYMENTS, timezone.localdate()):
            customer = customer_services.customer_create(
                organization=org,
                company_name=spec.name,
                contacts=[{"contact_name": spec.contact_name, "email": spec.email}],
                external_id=spec.external_id,
            )
            for number, amount, issue_date, due_date in spec.invoices:
                receivable_services.invoice_create(
                    organization=org,
                    customer=customer,
                    invoice_number=number,
                    amount=amount,
                    issue_date=issue_date,
                    due_date=due_date,
                )
            payment = payment_services.payment_create(
                organization=org,
                amount=spec.payment_amount,
                payment_date=spec.payment_date,
                payer_name=spec.name.upper(),
                payer_reference=spec.payer_reference,
                payment_method="ACH",
            )
            payment_ids.append(payment.pk)
        payment_services.payments_match(organization=org, payment_ids=payment_ids, auto_apply=False)
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(username=USERNAME).first()
    if user is None:
        user = org_services.user_create(username=USERNAME, password="bench-clerk-password-1")
    if not Membership.objects.filter(organization=org, user=user).exists():
        org_services.membership_add(organization=org, user=user)
    _, key = org_services.api_key_create(organization=org, name="bench")
    unreviewed = Payment.objects.for_org(org).filter(reviewed=False).count()
    return org, user, key, unreviewed


def _queries(get) -> int:
    """How many SQL statements one call runs."""
    from django.db import connection

    statements = []

    def count(execute, sql, params, many, context):
        statements.append(sql)
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        get()
    return len(statements)


def _time(calls: dict, runs: int) -> dict[str, float]:
    """Median milliseconds of each call over ``runs`` rounds (after 3 warm-ups). The calls
    alternate within each round, so both see the same load on a shared machine."""
    for _ in range(3):
        for get in calls.values():
            response = get()
            assert response.status_code == 200, response.status_code
    samples: dict[str, list[float]] = {name: [] for name in calls}
    for _ in range(runs):
        for name, get in calls.items():
            start = time.perf_counter()
            get()
            samples[name].append((time.perf_counter() - start) * 1000)
    return {name: statistics.median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args()

    import django

    django.setup()
    from django.test import Client
    from rest_framework.test import APIClient

    org, user, key, unreviewed = _setup()
    page = Client()
    page.force_login(user)
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")

    def page_get():
        return page.get("/payments/review/")

    def json_get():
        return api.get("/api/v1/payments", {"reviewed": "false", "per_page": PAYMENTS})

    from django.core.cache import cache

    def cold_get():
        cache.clear()  # no cached rows: every row rendered (the first view of new payments)
        return page_get()

    medians = _time({"page": page_get, "json": json_get, "cold": cold_get}, args.runs)
    html_ms, json_ms, cold_ms = medians["page"], medians["json"], medians["cold"]
    html_queries, json_queries = _queries(page_get), _queries(json_get)
    shown = page_get().content.decode().count('class="review-item')
    listed = len(json_get().json()["data"])
    print(f"organization {org.name!r}: {unreviewed} unreviewed payments; {args.runs} runs each")
    print(f"review queue page : median {html_ms:7.1f} ms, {html_queries} queries, {shown} rows")
    print(f"JSON payment list : median {json_ms:7.1f} ms, {json_queries} queries, {listed} rows")
    print(f"page, rows cold   : median {cold_ms:7.1f} ms (row cache cleared before each)")
    print(f"ratio page / JSON : {html_ms / json_ms:.2f}  (target < 2)")
    print(f"ratio cold / JSON : {cold_ms / json_ms:.2f}")


if __name__ == "__main__":
    main()
