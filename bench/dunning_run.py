"""The daily dunning run at scale on PostgreSQL: deciding and writing the outbox, and rendering.

    .venv/bin/python -m bench.dunning_run [--customers 100000] [--invoices 1000000]
        [--database-url postgres://postgres@127.0.0.1:5432/arpilot_bench_dunning]
        [--redis-url redis://127.0.0.1:6379/14] [--emails 2000] [--statements 20]

(Re)creates the bench database, migrates it and seeds one organization with the default
policy (four levels: 3, 14, 30 and 45 days; minimum overdue 10.00) by ``COPY``: customers
with contacts at escalation levels 1 to 3 (a few with no address at all), invoices issued over
the last year on net-30 terms (older ones mostly paid, some partial, a few void), 5 % of the
customers owing only small sums (under the minimum), 1.5 % of the overdue invoices disputed,
3 % of the customers with an open promise (and 1 % with a broken one, which dunning ignores),
and a dunning history: every customer but ``--fresh-share`` (10 %) was dunned daily until
yesterday, so its invoices already carry the level they had reached then. Today's run then
sends the levels reached today (every level fires: the invoices crossing 3, 14, 30 and 45
days) and catches up the fresh customers at their invoices' highest levels.

Timed: ``dunning_run`` for the organization, statements off (the default levels 3 and 4
attach a statement PDF; the timed run has ``attach_statement`` switched off and the PDFs are
timed separately, ``--statements``), with send tasks queued to a Redis database of its own
(``--redis-url``, flushed before and after; no worker takes them, so nothing is sent).
Reported: reminders and invoice lines written, seconds, reminders/s, statements per batch
(counted with a connection wrapper; the fixed part is printed per batch), peak memory
(resident set, reset before the run). Then the run of the next day (only what crossed a
level overnight), and separately the rendering of ``--emails`` reminder emails (subject,
text and HTML from the level templates compiled once, as the run does), and statement PDFs.

Targets (issue "Collections", "Speed and proof"): the run at most 60 s at 100,000 customers
and 1,000,000 invoices; the same number of statements for each batch of customers; at
least 200 reminder emails rendered a second.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
import random
import sys
import time
import uuid
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from urllib.parse import urlparse

from bench.generate import _copy as _copy_rows
from bench.matching_db import backend_pid, cpu_seconds, recreate_database

TARGET_SECONDS = 60.0
TARGET_EMAILS_PER_SECOND = 200.0
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/arpilot_bench_dunning"
DEFAULT_REDIS = "redis://127.0.0.1:6379/14"
ORG_NAME = "Dunning Bench Org"

SMALL_SHARE = 0.05  # customers owing only sums under the minimum
DISPUTED_SHARE = 0.015  # of the overdue invoices
PROMISED_SHARE = 0.03  # of the customers: an open promise over their overdue invoices
BROKEN_SHARE = 0.01  # of the customers: a broken promise (dunning goes on)


# --- memory --------------------------------------------------------------------------------------


def peak_reset() -> None:
    """Give freed memory back to the system (seeding's), then reset the resident-set
    high-water mark of this process (Linux: clear_refs 5): the peak is then the run's."""
    import ctypes
    import gc

    gc.collect()
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    try:
        with open("/proc/self/clear_refs", "w") as refs:
            refs.write("5")
    except OSError:
        pass


def memory_mib() -> tuple[float, float]:
    """(current, peak since the last reset) resident set of this process, in MiB."""
    values = {}
    with open("/proc/self/status") as status:
        for line in status:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0]) / 1024
    return values.get("VmRSS", 0.0), values.get("VmHWM", 0.0)


# --- seeding -------------------------------------------------------------------------------------


def _drop_secondary_indexes(cursor, tables: list[str]) -> list[str]:
    """Drop the non-unique indexes of ``tables`` (rebuilt once after the load); their SQL."""
    cursor.execute(
        "SELECT i.indexname, i.indexdef FROM pg_indexes i "
        "JOIN pg_class c ON c.relname = i.indexname JOIN pg_index x ON x.indexrelid = c.oid "
        "WHERE i.tablename = ANY(%s) AND NOT x.indisunique AND NOT x.indisprimary",
        [tables],
    )
    indexes = cursor.fetchall()
    for name, _ in indexes:
        cursor.execute(f'DROP INDEX "{name}"')
    return [definition for _, definition in indexes]


# Text columns without a database default, written empty.
_BLANKS = {
    "customers_contact": "phone phone_type phone_secondary phone_type_secondary title notes",
    "receivables_invoice": "customer_name customer_address notes",
    "dunning_dispute": "note resolution resolution_note",
    "dunning_promise": "note",
    "dunning_reminder": "cancelled_reason",
}


def _copy(cursor, table: str, columns: list[str], rows) -> int:
    """COPY ``rows`` (tuples in ``columns`` order) into ``table``, blank text columns added."""
    blanks = _BLANKS.get(table, "").split()
    extra = ("",) * len(blanks)
    return _copy_rows(cursor, table, columns + blanks, (tuple(row) + extra for row in rows))


def _level_at(levels: list[tuple[int, int]], days_overdue: int) -> int:
    """The highest level (number) whose ``days_after_due`` ``days_overdue`` reaches, or 0."""
    reached = 0
    for number, days in levels:
        if days_overdue >= days:
            reached = number
    return reached


def seed(organization, *, customers: int, invoices: int, fresh_share: float, seed_: int, today):
    """Write the book (see the module's docstring); returns counts for the report."""
    from django.db import connection, transaction

    from dunning.models import DisputeReason
    from dunning.services import policy_get_or_seed
    from receivables.models import Account

    rng = random.Random(seed_)
    org = organization.pk
    now = datetime.now(UTC)
    policy = policy_get_or_seed(organization=organization)
    levels = [(level.level, level.days_after_due) for level in policy.levels.all()]
    ar_id = Account.objects.for_org(organization).get(role=Account.Role.RECEIVABLE).pk
    reason_id = DisputeReason.objects.for_org(organization).order_by("code").first().pk

    customer_ids = [uuid.uuid4() for _ in range(customers)]
    small = [rng.random() < SMALL_SHARE for _ in range(customers)]
    fresh = [rng.random() < fresh_share for _ in range(customers)]
    primary_contact: dict[int, uuid.UUID] = {}

    def customer_rows():
        for n, customer_id in enumerate(customer_ids):
            yield (customer_id, org, now, now, f"Customer {n:06d} Ltd", f"C{n:06d}", "", "UTC")

    def contact_rows():
        for n, customer_id in enumerate(customer_ids):
            contact_id = uuid.uuid4()
            primary_contact[n] = contact_id
            no_address = rng.random() < 0.02
            email = "" if no_address else f"ap@c{n:06d}.example.com"
            yield (contact_id, org, now, now, customer_id, f"Payables {n}", email, True, 1)
            if rng.random() < 0.6:
                email = "" if no_address else f"cfo@c{n:06d}.example.com"
                yield (uuid.uuid4(), org, now, now, customer_id, f"CFO {n}", email, False, 2)
            if rng.random() < 0.25:
                email = "" if no_address else f"owner@c{n:06d}.example.com"
                yield (uuid.uuid4(), org, now, now, customer_id, f"Owner {n}", email, False, 3)

    promised = [rng.random() < PROMISED_SHARE for _ in range(customers)]
    broken = [not promised[n] and rng.random() < BROKEN_SHARE for n in range(customers)]
    # (invoice id, customer index, amount due, days overdue) of the open overdue invoices
    overdue: list[tuple[uuid.UUID, int, Decimal, int]] = []
    statuses: Counter = Counter()

    def invoice_rows():
        for n in range(invoices):
            c = n % customers if n < customers else int(customers * rng.random() ** 1.5)
            issue = today - timedelta(days=rng.randrange(365))
            due = issue + timedelta(days=30)
            days_overdue = (today - due).days
            cents = rng.randrange(100, 400) if small[c] else rng.randrange(5_000, 500_000)
            amount = Decimal(cents).scaleb(-2)
            if days_overdue <= 0:
                is_open = rng.random() < 0.97
            else:
                is_open = rng.random() < 0.05 + 0.6 * math.exp(-days_overdue / 45)
            if rng.random() < 0.005:
                status, amount_due = "void", Decimal("0.00")
            elif not is_open:
                status, amount_due = "paid", Decimal("0.00")
            elif rng.random() < 0.1:
                status, amount_due = "partial", (amount / 2).quantize(Decimal("0.01"))
            else:
                status, amount_due = ("overdue" if days_overdue > 0 else "pending"), amount
            statuses[status] += 1
            invoice_id = uuid.uuid4()
            if status in ("overdue", "partial") and days_overdue > 0 and amount_due > 0:
                overdue.append((invoice_id, c, amount_due, days_overdue))
            created = datetime.combine(issue, datetime.min.time(), tzinfo=UTC)
            yield (
                invoice_id,
                org,
                created,
                created,
                n + 1,
                f"DINV-{n + 1:08d}",
                customer_ids[c],
                "USD",
                amount,
                amount_due,
                issue,
                due,
                status,
                ar_id,
                created if status == "void" else None,
            )

    counts: dict = {}
    with transaction.atomic(), connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        cursor.execute("SET LOCAL maintenance_work_mem = '512MB'")
        # Valid keys by construction: skip the per-row foreign-key triggers (superuser only).
        cursor.execute("SET LOCAL session_replication_role = replica")
        tables = ["customers_contact", "receivables_invoice", "dunning_reminder"]
        tables += ["dunning_reminderinvoice", "dunning_promiseinvoice"]
        index_definitions = _drop_secondary_indexes(cursor, tables)
        counts["customers"] = _copy(
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
            customer_rows(),
        )
        counts["contacts"] = _copy(
            cursor,
            "customers_contact",
            [
                "id",
                "organization_id",
                "created_at",
                "updated_at",
                "customer_id",
                "contact_name",
                "email",
                "is_primary",
                "escalation_level",
            ],
            contact_rows(),
        )
        counts["invoices"] = _copy(
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
                "currency",
                "amount",
                "amount_due",
                "issue_date",
                "due_date",
                "status",
                "ar_account_id",
                "voided_at",
            ],
            invoice_rows(),
        )
        cursor.execute("SELECT setval('receivables_invoice_aplos_id_seq', %s)", [invoices + 1])
        disputed = {row[0] for row in overdue if rng.random() < DISPUTED_SHARE}
        counts["disputed"] = _copy(
            cursor,
            "dunning_dispute",
            [
                "id",
                "organization_id",
                "created_at",
                "updated_at",
                "invoice_id",
                "reason_id",
                "status",
            ],
            (
                (uuid.uuid4(), org, now, now, invoice_id, reason_id, "open")
                for invoice_id in disputed
            ),
        )
        by_customer: dict[int, list] = defaultdict(list)
        for row in overdue:
            by_customer[row[1]].append(row)
        promises, promise_lines = [], []
        for c, rows in by_customer.items():
            if not (promised[c] or broken[c]):
                continue
            promise_id = uuid.uuid4()
            total = sum(row[2] for row in rows)
            status = "open" if promised[c] else "broken"
            promised_date = today + timedelta(days=7) if promised[c] else today - timedelta(days=3)
            promises.append(
                (promise_id, org, now, now, customer_ids[c], primary_contact[c], total,
                 promised_date, status, total)
            )  # fmt: skip
            promise_lines.extend((org, promise_id, row[0]) for row in rows)
        _copy(
            cursor,
            "dunning_promise",
            [
                "id",
                "organization_id",
                "created_at",
                "updated_at",
                "customer_id",
                "contact_id",
                "amount",
                "promised_date",
                "status",
                "amount_due_at_promise",
            ],
            promises,
        )
        counts["promised invoices"] = _copy(
            cursor,
            "dunning_promiseinvoice",
            ["organization_id", "promise_id", "invoice_id"],
            promise_lines,
        )
        # History: daily runs until yesterday gave each invoice of a dunned customer the
        # level it had reached by then (one reminder per customer and level).
        reminders: dict[tuple[int, int], uuid.UUID] = {}
        history_lines = []
        for invoice_id, c, amount_due, days_overdue in overdue:
            if fresh[c] or small[c] or invoice_id in disputed or promised[c]:
                continue
            level = _level_at(levels, days_overdue - 1)
            if not level:
                continue
            reminder_id = reminders.setdefault((c, level), uuid.uuid4())
            history_lines.append((org, reminder_id, invoice_id, level, amount_due, days_overdue))
        subject = json.dumps(["history"])
        _copy(
            cursor,
            "dunning_reminder",
            ["id", "organization_id", "created_at", "updated_at", "customer_id", "level", "status", '"to"', "subject", "total", "run_date", "attach_statement"],
            (
                (reminder_id, org, now, now, customer_ids[c], level, "sent",
                 json.dumps([f"ap@c{c:06d}.example.com"]), subject, Decimal("0.00"),
                 today - timedelta(days=1), False)
                for (c, level), reminder_id in reminders.items()
            ),
        )  # fmt: skip
        counts["history lines"] = _copy(
            cursor,
            "dunning_reminderinvoice",
            [
                "organization_id",
                "reminder_id",
                "invoice_id",
                "level",
                "amount_due",
                "days_overdue",
                "released",
            ],
            ((*row, False) for row in history_lines),
        )
        cursor.execute("SET LOCAL session_replication_role = origin")
        for definition in index_definitions:
            cursor.execute(definition)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    counts["overdue open invoices"] = len(overdue)
    counts["statuses"] = dict(statuses)
    counts["fresh customers"] = sum(fresh)
    counts["small customers"] = sum(small)
    return counts


# --- timing --------------------------------------------------------------------------------------


class StatementCounter:
    """A connection execute wrapper: statements, and among them the outbox INSERTs (mail's
    ``email_queue`` writes each email with an INSERT of its own)."""

    def __init__(self) -> None:
        self.total = 0
        self.emails = 0

    def __call__(self, execute, sql, params, many, context):
        self.total += 1
        if sql.startswith('INSERT INTO "mail_outboundemail"'):
            self.emails += 1
        return execute(sql, params, many, context)


def timed_run(organization, today):
    """``dunning_run`` with statements counted per batch; (reminders, seconds, batches)."""
    from django.db import connection

    from dunning.services import run as run_module

    counter = StatementCounter()
    batches: list[tuple[int, int, int, int]] = []  # (customers, reminders, fixed, emails)
    original = run_module._run_batch

    def counted_batch(organization, customer_ids, *args, **kwargs):
        total, emails = counter.total, counter.emails
        made = original(organization, customer_ids, *args, **kwargs)
        emails = counter.emails - emails
        batches.append((len(customer_ids), len(made), counter.total - total - emails, emails))
        return made

    run_module._run_batch = counted_batch
    try:
        with connection.execute_wrapper(counter):
            started = time.perf_counter()
            reminders = run_module.dunning_run(organization=organization, today=today)
            seconds = time.perf_counter() - started
    finally:
        run_module._run_batch = original
    return reminders, seconds, batches, counter.total


def report_run(title, organization, today, *, db_pid) -> tuple[float, bool]:
    from dunning.models import ReminderInvoice

    lines_before = ReminderInvoice.objects.for_org(organization).count()
    cpu_before = cpu_seconds(db_pid)
    peak_reset()
    rss_before, _ = memory_mib()
    reminders, seconds, batches, statements = timed_run(organization, today)
    _, peak = memory_mib()
    cpu_after = cpu_seconds(db_pid)
    lines = ReminderInvoice.objects.for_org(organization).count() - lines_before
    by_level = Counter(reminder.level for reminder in reminders)
    emails = sum(batch[3] for batch in batches)
    per_email = emails > len(batches)  # mail's email_queue: one INSERT per email
    fixed = Counter(batch[2] + (0 if per_email else batch[3]) for batch in batches)
    constant = len(fixed) <= 1
    print(f"\n{title}")
    print(f"  reminders written     {len(reminders):,} ({lines:,} invoice lines), by level "
          + ", ".join(f"{level}: {count:,}" for level, count in sorted(by_level.items())))  # fmt: skip
    print(f"  seconds               {seconds:.2f}   (target ≤ {TARGET_SECONDS:.0f} s: "
          f"{'met' if seconds <= TARGET_SECONDS else 'NOT met'})")  # fmt: skip
    print(f"  reminders/s           {len(reminders) / seconds:,.0f}")
    print(
        f"  CPU s                 Python {cpu_after[0] - cpu_before[0]:.1f}, "
        f"PostgreSQL backend {cpu_after[1] - cpu_before[1]:.1f}"
    )
    sizes = Counter(batch[0] for batch in batches)
    print(
        f"  batches               {len(batches)} (customers per batch: "
        + ", ".join(f"{count} of {size}" for size, count in sorted(sizes.items(), reverse=True))
        + ")"
    )
    if per_email:
        shape = (
            ", ".join(f"{count} in {times} batches" for count, times in sorted(fixed.items()))
            + f", + 1 outbox INSERT per email ({emails:,}: mail's email_queue writes one at a time)"
        )
    else:
        shape = (
            ", ".join(f"{count} in {times} batches" for count, times in sorted(fixed.items()))
            + f" (one of them the outbox INSERT: {emails:,} in all)"
        )
    verdict = "met" if constant and not per_email else "NOT met"
    if constant and per_email:
        verdict += ": constant but for the per-email INSERT"
    print(f"  statements per batch  {shape}; {statements:,} statements in the run")
    print(f"                        (target: the same for every batch: {verdict})")
    print(
        f"  peak memory           {peak:,.0f} MiB resident (was {rss_before:,.0f} before the run)"
    )
    return seconds, constant and not per_email


def render_rate(organization, today, count: int) -> float:
    """Render ``count`` reminder emails as the run does (templates compiled once)."""
    from dunning.services import policy_get_or_seed
    from dunning.services import run as run_module

    policy = policy_get_or_seed(organization=organization)
    plans = []
    for customer_ids in run_module._customer_batches(organization, policy, today):
        plans.extend(run_module._plan_batch(organization, policy, customer_ids, today))
        if len(plans) >= count:
            break
    if not plans:
        print("\nRendering: no reminder to render")
        return 0.0
    plans = (plans * (count // len(plans) + 1))[:count]
    started = time.perf_counter()
    templates = run_module.ReminderTemplates()
    size = 0
    for plan in plans:
        subject, text, html = templates.render(organization, policy, plan)
        size += len(subject) + len(text) + len(html)
    seconds = time.perf_counter() - started
    rate = count / seconds
    print(f"\nRendering {count:,} reminder emails (subject, text, HTML; no SMTP)")
    print(
        f"  {seconds:.2f} s, {rate:,.0f} emails/s, {size / count:,.0f} characters each  "
        f"(target ≥ {TARGET_EMAILS_PER_SECOND:.0f}/s: "
        f"{'met' if rate >= TARGET_EMAILS_PER_SECOND else 'NOT met'})"
    )
    return rate


def statement_rate(organization, today, count: int) -> None:
    """The statement PDFs that levels 3 and 4 attach, timed apart (WeasyPrint)."""
    from customers.models import Customer
    from receivables.statement_pdf import PdfUnavailable, statement_pdf
    from receivables.statements import DEFAULT_PERIOD_DAYS, customer_statement

    if count <= 0:
        return
    customers = list(Customer.objects.for_org(organization).order_by("external_id")[:count])
    started = time.perf_counter()
    size = 0
    try:
        for customer in customers:
            statement = customer_statement(
                organization=organization,
                customer=customer,
                date_from=today - timedelta(days=DEFAULT_PERIOD_DAYS),
                date_to=today,
            )
            size += len(statement_pdf(statement, organization_name=organization.name))
    except PdfUnavailable:
        print("\nStatement PDFs: WeasyPrint unavailable here")
        return
    seconds = time.perf_counter() - started
    print(f"\nStatement PDFs ({count}, timed apart from the run; the bench book has no journal)")
    print(f"  {seconds:.2f} s, {count / seconds:.1f} PDFs/s, {size / count / 1024:.0f} KiB each")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--customers", type=int, default=100_000)
    parser.add_argument("--invoices", type=int, default=1_000_000)
    parser.add_argument("--fresh-share", type=float, default=0.10)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--emails", type=int, default=2000, help="emails to render for the rate")
    parser.add_argument("--statements", type=int, default=20, help="statement PDFs to time")
    parser.add_argument(
        "--database-url", default=os.environ.get("BENCH_DUNNING_DATABASE_URL", DEFAULT_URL)
    )
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--no-next-day", action="store_true", help="skip the next day's run")
    parser.add_argument("--no-fail", action="store_true", help="print the figures, never exit 1")
    args = parser.parse_args(argv)

    if not urlparse(args.database_url).path.lstrip("/").startswith("arpilot_bench"):
        sys.exit("--database-url must name a bench database (arpilot_bench…): it is dropped")
    recreate_database(args.database_url)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")
    import django
    import redis

    django.setup()
    import logging

    logging.getLogger("weasyprint").setLevel(logging.WARNING)  # its progress is INFO
    from django.core.management import call_command
    from django.db import connection

    from arpilot.services import organization_create
    from dunning.models import DunningLevel
    from dunning.services import organization_today

    redis.Redis.from_url(args.redis_url).flushdb()
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} at the start")
    started = time.perf_counter()
    call_command("migrate", verbosity=0)
    organization = organization_create(name=ORG_NAME)
    today = organization_today(organization)
    counts = seed(
        organization,
        customers=args.customers,
        invoices=args.invoices,
        fresh_share=args.fresh_share,
        seed_=args.seed,
        today=today,
    )
    print(f"seeded in {time.perf_counter() - started:.1f} s (migrations included): {counts}")
    statements_off = DunningLevel.objects.for_org(organization).filter(attach_statement=True)
    print(f"statement attachment switched off for the timed runs at levels "
          f"{sorted(statements_off.values_list('level', flat=True))}")  # fmt: skip
    statements_off.update(attach_statement=False)

    rate = render_rate(organization, today, args.emails)
    connection.ensure_connection()
    db_pid = backend_pid()
    seconds, constant = report_run(
        f"Run of {today} (first day of this book: levels reached today + fresh customers)",
        organization,
        today,
        db_pid=db_pid,
    )
    if not args.no_next_day:
        report_run(
            f"Run of {today + timedelta(days=1)} (the next day)",
            organization,
            today + timedelta(days=1),
            db_pid=db_pid,
        )
    statement_rate(organization, today, args.statements)
    queued = redis.Redis.from_url(args.redis_url).llen("arpilot")
    redis.Redis.from_url(args.redis_url).flushdb()
    print(f"\nsend tasks queued to Redis during the runs: {queued:,} (flushed)")
    print(f"load average {os.getloadavg()[0]:.2f} {os.getloadavg()[1]:.2f} at the end")
    met = seconds <= TARGET_SECONDS and constant and rate >= TARGET_EMAILS_PER_SECOND
    return 0 if met or args.no_fail else 1


if __name__ == "__main__":
    sys.exit(main())
