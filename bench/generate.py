"""Bulk data for the receivables benchmarks: ``python -m bench.generate --invoices 1000000``.

Needs ``DATABASE_URL`` pointing at a PostgreSQL database of its own (e.g. ``arpilot_bench``);
migrates it, creates (or reuses) the organization "Bench Org" with its seeded chart of
accounts, and streams customers, invoices and invoice lines in with ``COPY``. The rows are
shaped like real ones (statuses consistent with amounts and due dates, one revenue line per
invoice) but have no journal entries: the ledger is not what the list benchmark reads.
"""

import argparse
import os
import random
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta

from bench.book import list_customer_name, list_invoices

ORG_NAME = "Bench Org"


def setup_django() -> None:
    if not os.environ.get("DATABASE_URL", "").startswith("postgres"):
        sys.exit("Set DATABASE_URL to a PostgreSQL database of its own (e.g. arpilot_bench).")
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")
    import django

    django.setup()


def bench_organization():
    from arpilot.services import organization_get_or_create

    organization, _ = organization_get_or_create(name=ORG_NAME)
    return organization


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    count = 0
    with cursor.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)
            count += 1
    return count


def _customer_rows(organization_id: int, count: int, now: datetime, token: str):
    for n in range(count):
        yield (
            uuid.uuid4(),
            organization_id,
            now,
            now,
            list_customer_name(n),
            f"BC-{token}-{n:06d}",
            f"{n} Market Street, Springfield",
            "UTC",
        )


def _invoice_rows(
    organization_id, customers, ar_account_id, start_aplos_id, count, today, rng, currency="USD"
):
    base = datetime.now(UTC) - timedelta(days=400)
    invoices = list_invoices(count, today, rng)
    for n, (status, issue, due, amount, amount_due) in enumerate(invoices):
        created = base + timedelta(seconds=n * 30)
        yield (
            uuid.uuid4(),
            organization_id,
            created,
            created,
            start_aplos_id + n,
            f"BINV-{start_aplos_id + n:08d}",
            customers[n % len(customers)],
            "",
            "",
            currency,
            amount,
            amount_due,
            issue,
            due,
            status,
            "",
            ar_account_id,
            created if status == "void" else None,
        )


SECONDARY_INDEX_SQL = """
SELECT i.indexname, i.indexdef FROM pg_indexes i
JOIN pg_class c ON c.relname = i.indexname
JOIN pg_index x ON x.indexrelid = c.oid
WHERE i.tablename = ANY(%s) AND NOT x.indisunique AND NOT x.indisprimary
"""
BULK_TABLES = ["receivables_invoice", "receivables_invoiceline"]


def _drop_secondary_indexes(cursor) -> list[str]:
    """Drop the non-unique indexes of the bulk tables; return their definitions.

    Loading rows and then building each index once is several times faster than
    maintaining every index row by row during COPY.
    """
    cursor.execute(SECONDARY_INDEX_SQL, [BULK_TABLES])
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes]


def generate(*, invoices: int, customers: int, seed: int = 7) -> None:
    from django.core.management import call_command
    from django.db import connection, transaction

    from receivables.models import Account, Fund, ReceivablesCounter

    call_command("migrate", verbosity=0)
    organization = bench_organization()
    rng = random.Random(seed)
    token = uuid.uuid4().hex[:6]
    now = datetime.now(UTC)
    today = date.today()
    ar = Account.objects.for_org(organization).get(role=Account.Role.RECEIVABLE)
    revenue = Account.objects.for_org(organization).get(role=Account.Role.REVENUE)
    fund = Fund.objects.for_org(organization).get(is_default=True)
    started = time.perf_counter()
    with transaction.atomic():
        counter = ReceivablesCounter.objects.select_for_update().get(pk=organization.pk)
        start_aplos_id = counter.last_invoice_aplos_id + 1
        with connection.cursor() as django_cursor:
            cursor = django_cursor.cursor
            made_customers = _copy(
                cursor,
                "customers_customer",
                [
                    "id",
                    "organization_id",
                    "created_at",
                    "updated_at",
                    "company_name",
                    "external_id",
                    "address",
                    "timezone",
                ],
                _customer_rows(organization.pk, customers, now, token),
            )
            cursor.execute(
                "SELECT id FROM customers_customer WHERE organization_id = %s "
                "AND external_id LIKE %s ORDER BY external_id",
                [organization.pk, f"BC-{token}-%"],
            )
            customer_ids = [row[0] for row in cursor.fetchall()]
            cursor.execute("SET LOCAL maintenance_work_mem = '256MB'")
            # The rows are generated with valid keys; skipping the per-row foreign-key
            # triggers (superuser only) is most of the speed-up.
            cursor.execute("SET LOCAL session_replication_role = replica")
            index_definitions = _drop_secondary_indexes(cursor)
            cursor.execute(
                "INSERT INTO receivables_aploscontact (organization_id, customer_id, type) "
                "SELECT organization_id, id, 'company' FROM customers_customer c "
                "WHERE organization_id = %s AND NOT EXISTS "
                "(SELECT 1 FROM receivables_aploscontact a WHERE a.customer_id = c.id)",
                [organization.pk],
            )
            made_invoices = _copy(
                cursor,
                "receivables_invoice",
                [
                    "id",
                    "organization_id",
                    "created_at",
                    "updated_at",
                    "aplos_id",
                    "invoice_number",
                    "customer_id",
                    "customer_name",
                    "customer_address",
                    "currency",
                    "amount",
                    "amount_due",
                    "issue_date",
                    "due_date",
                    "status",
                    "notes",
                    "ar_account_id",
                    "voided_at",
                ],
                _invoice_rows(
                    organization.pk,
                    customer_ids,
                    ar.pk,
                    start_aplos_id,
                    invoices,
                    today,
                    rng,
                    (organization.currency or "USD").upper(),
                ),
            )
            cursor.execute(
                "INSERT INTO receivables_invoiceline "
                "(organization_id, invoice_id, position, amount, note, account_id, fund_id) "
                "SELECT organization_id, id, 0, amount, '', %s, %s FROM receivables_invoice "
                "WHERE organization_id = %s AND aplos_id >= %s",
                [revenue.pk, fund.pk, organization.pk, start_aplos_id],
            )
            cursor.execute("SET LOCAL session_replication_role = origin")
            for definition in index_definitions:
                cursor.execute(definition)
        ReceivablesCounter.objects.filter(pk=organization.pk).update(
            last_invoice_aplos_id=start_aplos_id + invoices - 1
        )
    with connection.cursor() as cursor:
        for table in ("customers_customer", "receivables_invoice", "receivables_invoiceline"):
            cursor.execute(f"VACUUM ANALYZE {table}")
    elapsed = time.perf_counter() - started
    print(
        f"{ORG_NAME} (id {organization.pk}): +{made_customers} customers, "
        f"+{made_invoices} invoices and lines in {elapsed:.1f}s"
    )


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument(
        "--customers", type=int, default=None, help="default: invoices / 100, at least 10"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    setup_django()
    generate(
        invoices=args.invoices,
        customers=args.customers or max(10, args.invoices // 100),
        seed=args.seed,
    )


if __name__ == "__main__":
    main()
