"""Invoice list benchmark: ``python -m bench.invoice_list`` (after ``bench.generate``).

Times ``GET /api/v1/invoices?status=<status>&per_page=100`` through the whole Django stack
(middleware, API-key auth, throttling, filtering, pagination, rendering) against the same
page fetched with raw psycopg and dumped with orjson, and prints both medians and the ratio
(target <= 2.0). The raw side runs the same three statements the endpoint needs (the total
for ``pagination.total``, the page joined to customer and receivable account, the page's
lines joined to account and fund); the page-only raw time is printed too. Also prints the
endpoint's query count at per_page 10 and 100 (must be equal).
"""

import argparse
import os
import statistics
import sys
import time

import orjson

PAGE_SQL = """
SELECT i.id, i.invoice_number, i.customer_id, i.customer_name, i.customer_address,
       c.company_name, c.address, i.amount, i.amount_due, i.issue_date, i.due_date,
       i.status, i.notes, i.created_at, i.updated_at, a.id, a.account_number, a.name
FROM receivables_invoice i
JOIN customers_customer c ON c.id = i.customer_id
JOIN receivables_account a ON a.id = i.ar_account_id
WHERE i.organization_id = %s AND i.status = %s
ORDER BY i.issue_date DESC, i.created_at DESC
LIMIT %s OFFSET 0
"""
COUNT_SQL = "SELECT count(*) FROM receivables_invoice WHERE organization_id = %s AND status = %s"
LINES_SQL = """
SELECT l.invoice_id, l.id, l.amount, l.note, a.id, a.account_number, a.name, f.id, f.name
FROM receivables_invoiceline l
JOIN receivables_account a ON a.id = l.account_id
JOIN receivables_fund f ON f.id = l.fund_id
WHERE l.invoice_id = ANY(%s)
ORDER BY l.position, l.id
"""


def _iso(value) -> str:
    return value.isoformat()


def raw_fetch(conn, organization_id: int, status: str, per_page: int, with_count: bool) -> bytes:
    with conn.cursor() as cur:
        total = None
        if with_count:
            cur.execute(COUNT_SQL, (organization_id, status))
            total = cur.fetchone()[0]
        cur.execute(PAGE_SQL, (organization_id, status, per_page))
        rows = cur.fetchall()
        cur.execute(LINES_SQL, ([row[0] for row in rows],))
        lines: dict = {}
        for line in cur.fetchall():
            lines.setdefault(line[0], []).append(
                {
                    "id": line[1],
                    "amount": line[2],
                    "note": line[3],
                    "account": {"id": line[4], "account_number": line[5], "name": line[6]},
                    "fund": {"id": line[7], "name": line[8]},
                }
            )
    data = [
        {
            "id": row[0],
            "invoice_number": row[1],
            "customer_id": row[2],
            "customer_name": row[3] or row[5],
            "customer_address": row[4] or row[6],
            "amount": row[7],
            "amount_due": row[8],
            "amount_paid": row[7] - row[8],
            "issue_date": row[9],
            "due_date": row[10],
            "status": row[11],
            "notes": row[12],
            "ar_account": {"id": row[15], "account_number": row[16], "name": row[17]},
            "lines": lines.get(row[0], []),
            "created_at": row[13],
            "updated_at": row[14],
        }
        for row in rows
    ]
    body = {"data": data, "pagination": {"page": 1, "per_page": per_page, "total": total}}
    return orjson.dumps(body, default=float)


def median_ms(fn, runs: int) -> float:
    for _ in range(3):
        fn()
    samples = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - started) * 1000)
    return statistics.median(samples)


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--status", default="overdue")
    parser.add_argument("--runs", type=int, default=30)
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to the benchmark's PostgreSQL database (see bench.generate).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")
    os.environ.setdefault("ARPILOT_API_RATE", "1000000/min")
    import django

    django.setup()
    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from arpilot.models import Organization
    from arpilot.services import api_key_create
    from bench.generate import ORG_NAME
    from receivables.models import Invoice

    organization = Organization.objects.get(name=ORG_NAME)
    total = Invoice.objects.for_org(organization).count()
    matching = Invoice.objects.for_org(organization).filter(status=args.status).count()
    _, key = api_key_create(organization=organization, name="bench")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    url = f"/api/v1/invoices?status={args.status}&per_page=100"

    def endpoint():
        response = client.get(url)
        assert response.status_code == 200, response.content[:300]
        return response.content

    settings_db = connection.settings_dict
    conn = psycopg.connect(
        dbname=settings_db["NAME"],
        user=settings_db["USER"],
        password=settings_db["PASSWORD"] or None,
        host=settings_db["HOST"],
        port=settings_db["PORT"] or 5432,
        autocommit=True,
    )
    api_ms = median_ms(endpoint, args.runs)
    raw_ms = median_ms(lambda: raw_fetch(conn, organization.pk, args.status, 100, True), args.runs)
    page_ms = median_ms(
        lambda: raw_fetch(conn, organization.pk, args.status, 100, False), args.runs
    )

    def count_only():
        with conn.cursor() as cur:
            cur.execute(COUNT_SQL, (organization.pk, args.status))
            cur.fetchone()

    count_ms = median_ms(count_only, args.runs)
    counts = {}
    for per_page in (10, 100):
        with CaptureQueriesContext(connection) as captured:
            client.get(f"/api/v1/invoices?status={args.status}&per_page={per_page}")
        counts[per_page] = len(captured)

    print(f"invoices: {total:,} in {ORG_NAME}; status={args.status}: {matching:,}")
    print(f"endpoint median (per_page=100):          {api_ms:8.2f} ms")
    print(f"raw psycopg + orjson, same 3 statements: {raw_ms:8.2f} ms")
    print(f"raw psycopg + orjson, page only:         {page_ms:8.2f} ms")
    print(f"raw count(*) alone:                      {count_ms:8.2f} ms")
    print(f"ratio endpoint / raw:                    {api_ms / raw_ms:8.2f}  (target <= 2.0)")
    print(
        "ratio without the count on both sides:   "
        f"{(api_ms - count_ms) / max(raw_ms - count_ms, 0.01):8.2f}"
    )
    print(f"queries per request: per_page=10 -> {counts[10]}, per_page=100 -> {counts[100]}")


if __name__ == "__main__":
    main()
