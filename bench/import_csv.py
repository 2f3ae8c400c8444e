"""Payment import end to end vs a raw psycopg COPY of the same rows, on PostgreSQL.

    .venv/bin/python -m bench.import_csv [--rows 100000]
        [--database-url postgres://postgres@127.0.0.1:5432/arpilot_bench_pay_import]

(Re)creates the bench database, writes a realistic CSV bank export (``bench.book.generate_csv``:
about 85 % credits, 15 % debits, bank transaction ids) and times:

* import: ``payment_import_create`` (store the file, sniff it) + ``payment_import_run``
  (parse, fingerprint, skip what exists, insert the new payments in batches with progress,
  count the outcome) — the matching run it queues afterwards is not included;
* baseline: the same credits, already parsed into rows, written with one raw psycopg
  ``COPY`` into the payments table (same indexes and constraints) of a fresh organization;
* re-import: the same file again (every line a duplicate).

Target: import at most 3 times the baseline.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid

from bench.book import generate_csv
from bench.matching_db import backend_pid, cpu_seconds, recreate_database

TARGET_RATIO = 3.0
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/arpilot_bench_pay_import"


def import_rows(payment_import, result) -> tuple[dict, list[tuple]]:
    """A whole parsed file's credits as payment rows (tuples in ``IMPORT_COLUMNS`` order),
    with the values they share: what ``payment_import_run`` writes, built in one go for the
    baseline (the import itself builds them batch by batch while it parses)."""
    from payments.services.imports import _import_row_tuples, _import_shared

    shared, organization_currency = _import_shared(payment_import)
    rows = _import_row_tuples(
        result.transactions,
        file_currency=result.currency or organization_currency,
        file_account=result.account or "",
        seen_prints={},
    )
    return shared, rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_IMPORT_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--no-fail", action="store_true", help="print the figures, never exit 1")
    args = parser.parse_args(argv)

    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ.pop("REDIS_URL", None)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")
    import django
    from django.core.management import call_command

    django.setup()
    call_command("migrate", verbosity=0)

    from django.db import connection, transaction

    from arpilot.services import organization_create
    from payments import importers, services, tasks
    from payments.models import Payment, PaymentImport
    from payments.services.imports import IMPORT_COLUMNS

    # The follow-up tasks (the import task itself, matching) are not part of the measurement.
    tasks.payment_import_task.apply_async = lambda *a, **k: None
    tasks.payments_match_task.apply_async = lambda *a, **k: None

    data = generate_csv(args.rows, seed=args.seed)
    print(f"CSV: {args.rows} lines, {len(data) / 1e6:.1f} MB")

    # Baseline: parse and build the rows outside the clock, then one raw COPY.
    baseline_org = organization_create(name="bench import baseline")
    started = time.perf_counter()
    result = importers.parse(data)
    parse_alone = time.perf_counter() - started
    holder = PaymentImport(organization=baseline_org, pk=uuid.uuid4())
    shared, varying = import_rows(holder, result)
    shared["payment_import_id"] = None
    # The baseline holds ids as uuid.UUID, as rows built by hand for psycopg would.
    varying = [(uuid.UUID(row[0]), *row[1:]) for row in varying]
    rows = [dict(shared, **dict(zip(IMPORT_COLUMNS, row, strict=True))) for row in varying]
    fields = Payment._meta.concrete_fields
    columns = ", ".join(field.column for field in fields)
    values = [[row[field.attname] for field in fields] for row in rows]
    connection.ensure_connection()
    raw = connection.connection
    copy_cpu_before = cpu_seconds(raw.info.backend_pid)
    started = time.perf_counter()
    sql = f"COPY {Payment._meta.db_table} ({columns}) FROM STDIN"
    with raw.cursor() as cursor, cursor.copy(sql) as copy:
        for value in values:
            copy.write_row(value)
    raw.commit()
    baseline = time.perf_counter() - started
    print(f"baseline raw COPY of {len(values)} pre-parsed rows: {baseline:.2f} s")
    print(f"(parsing the file alone, part of the import below: {parse_alone:.2f} s)")

    baseline_cpu = cpu_seconds(raw.info.backend_pid)
    organization = organization_create(name="bench import")
    pid = backend_pid()
    cpu_before = cpu_seconds(pid)
    started = time.perf_counter()
    with transaction.atomic():
        payment_import = services.payment_import_create(
            organization=organization, filename="bank.csv", data=data
        )
    services.payment_import_run(import_id=payment_import.pk)
    elapsed = time.perf_counter() - started
    cpu_after = cpu_seconds(pid)
    payment_import.refresh_from_db()
    print(
        f"import end to end: {elapsed:.2f} s — status {payment_import.status}, "
        f"{payment_import.created_count} created, {payment_import.duplicates_count} duplicates, "
        f"{payment_import.debits_skipped} debits skipped, {len(payment_import.rejected)} rejected"
    )

    started = time.perf_counter()
    with transaction.atomic():
        again = services.payment_import_create(
            organization=organization, filename="bank.csv", data=data
        )
    services.payment_import_run(import_id=again.pk)
    repeat = time.perf_counter() - started
    again.refresh_from_db()
    print(
        f"re-import of the same file: {repeat:.2f} s — {again.created_count} created, "
        f"{again.duplicates_count} duplicates"
    )

    ratio = elapsed / baseline
    copy_cpu = [after - before for after, before in zip(baseline_cpu, copy_cpu_before, strict=True)]
    import_cpu = [after - before for after, before in zip(cpu_after, cpu_before, strict=True)]
    print(
        f"CPU, raw COPY: python {copy_cpu[0]:.1f} s + backend {copy_cpu[1]:.1f} s; "
        f"import: python {import_cpu[0]:.1f} s + backend {import_cpu[1]:.1f} s; "
        f"ratio {sum(import_cpu) / sum(copy_cpu):.2f}"
    )
    print(f"load average: {os.getloadavg()[0]:.1f}; cpus: {os.cpu_count()}")
    print(f"ratio import / raw COPY: {ratio:.2f} (target ≤ {TARGET_RATIO})")
    if ratio > TARGET_RATIO and not args.no_fail:
        print("FAILED: the target was missed")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
