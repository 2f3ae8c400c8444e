"""API under load: the production shape (gunicorn + a Celery worker + PostgreSQL + Redis).

    .venv/bin/python -m bench.api_load --clients 16 --seconds 20
    .venv/bin/python -m bench.api_load --clients 64 --seconds 20
    .venv/bin/python -m bench.api_load --queries          # SQL per request, no load
    .venv/bin/python -m bench.api_load --app-dir /tmp/arpilot-head   # another checkout

Each run (re)creates its own PostgreSQL database (``arpilot_bench_load``; ``--database-url``),
migrates it, seeds one organization (``--customers`` 200 customers, ``--invoices`` 2,000
overdue invoices, through the services; names and amounts from ``bench.book``), creates an API key with ``manage.py
create_api_key``, flushes a Redis db of its own (``--redis-url``, db 9), starts
``gunicorn arpilot.wsgi:application`` on a free port (``gunicorn.conf.py``'s shape: a worker
process per core, eight threads each; ``--workers``/``--threads`` to try another) and one
``celery -A arpilot worker --concurrency 2`` against them (``ARPILOT_API_RATE`` set high so
the throttle stays out of the way), waits for ``/healthz`` and runs the mix with N client
threads, each with its own kept-alive connection (urllib3), looping:

1. ``GET /api/v1/invoices?status=overdue&per_page=100``          (list)
2. ``GET /api/v1/customers/{id}``                                  (customer)
3. ``POST /api/v1/invoices``                                       (create invoice)
4. ``POST /api/v1/payments`` paying it: amount = the invoice's, payer = the customer's name,
   reference = the invoice number, so matching auto-applies it    (import payment)
5. every fifth loop: another invoice, a payment whose payer and reference name nothing
   (not auto-applied), and ``PATCH /api/v1/payments/{id} {invoice_id}`` applying it by hand
   to that invoice                                                 (apply)

It prints requests/s, per kind the count and p50/p95/p99/max in ms, non-2xx answers by
status, how the matching decided, a money check in SQL (every invoice: amount_due = amount
- active allocations (with write-offs) - unreversed offline payments; every payment:
applied_amount = its active allocations), what the database backends were waiting on
(``pg_stat_activity`` sampled every 0.2 s), the CPU the processes spent, and each figure
against its target. The processes are stopped by PID at the end, and the database is
dropped unless ``--keep``.

``--queries`` counts the SQL statements of one request of each kind in process (Django's
test client + ``CaptureQueriesContext``) against a database seeded the same way; Celery
tasks run eagerly (``task_always_eager``), so a request's count includes the tasks it
queues, matching included (with fewer than 20,000 open invoices it runs inline anyway).

``--profile N`` runs each kind N times in process: first without a profiler (CPU ms per
request of this process and of its PostgreSQL backend), then under cProfile; ``--reuse``
profiles a database a ``--keep`` run left. ``--py-spy PATH`` samples gunicorn and the worker
during a load run. The book is ``ANALYZE``d after seeding (this box runs PostgreSQL with
autovacuum off; production's keeps statistics).

``--app-dir DIR`` measures the application in DIR (e.g. ``git archive HEAD | tar -x -C DIR``,
to measure a commit while this tree is being edited) with this checkout's benchmark; see
``use_app_dir``.
"""

import argparse
import collections
import os
import random
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path
from urllib.parse import urlparse

from bench.book import service_customer_names, service_invoices

BASE_DIR = Path(__file__).resolve().parent.parent
APP_DIR = BASE_DIR  # --app-dir: the application to measure (e.g. a `git archive` of a commit)

DEFAULT_DB = "postgres://postgres@127.0.0.1:5432/arpilot_bench_load"
DEFAULT_REDIS = "redis://127.0.0.1:6379/9"
ORG_NAME = "API Load Bench"
KINDS = ("list", "customer", "create invoice", "import payment", "apply")

TARGET_RPS = 150.0  # at 16 clients
TARGET_P95_MS = 250.0  # every kind, at 16 clients
TARGET_MAX_MS_64 = 5000.0  # at 64 clients: no request over 5 s
QUERY_TARGETS = {"create invoice": 12, "import payment": 15, "apply": 20}


def loadavg() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


# --- database and processes --------------------------------------------------------------------


def recreate_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    name = parsed.path.lstrip("/")
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')


def drop_database(url: str) -> None:
    import psycopg

    parsed = urlparse(url)
    admin = parsed._replace(path="/postgres").geturl()
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{parsed.path.lstrip("/")}" WITH (FORCE)')


def flush_redis(url: str) -> None:
    import redis

    redis.Redis.from_url(url).flushdb()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def child_env() -> dict:
    return {**os.environ, "PYTHONUNBUFFERED": "1", "PYTHONPATH": str(APP_DIR)}


def gunicorn_shape(workers: int | None, threads: int | None) -> tuple[int, int]:
    """Workers and threads: as given, else what the measured application's
    ``gunicorn.conf.py`` starts (a process per core, eight threads), else 4 x 4 (commits from
    before the file said)."""
    import runpy

    conf = APP_DIR / "gunicorn.conf.py"
    settings = runpy.run_path(str(conf)) if conf.exists() else {}
    return (
        workers or settings.get("workers") or 4,
        threads or settings.get("threads") or 4,
    )


def start_gunicorn(port: int, workers: int, threads: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "gunicorn", "arpilot.wsgi:application",
        "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", str(threads),
        "--error-logfile", str(log), "--log-level", "warning",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=APP_DIR, env=child_env(), start_new_session=True,
        stdout=subprocess.DEVNULL, stderr=log.with_suffix(".out").open("w"),
    )  # fmt: skip


def start_worker(concurrency: int, log: Path) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "celery", "-A", "arpilot", "worker",
        f"--concurrency={concurrency}", "--loglevel=WARNING", f"--logfile={log}",
        "--without-gossip", "--without-mingle", "-n", f"bench-load-{os.getpid()}@%h",
    ]  # fmt: skip
    return subprocess.Popen(
        command, cwd=APP_DIR, env=child_env(), start_new_session=True,
        stdout=log.with_suffix(".out").open("w"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def stop(process: subprocess.Popen | None) -> None:
    """SIGTERM to the process group this script started (its own session), then SIGKILL."""
    if process is None or process.poll() is not None:
        return
    try:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(10)
    except ProcessLookupError:
        pass


def wait_healthy(base: str, processes, timeout: float = 60) -> None:
    import requests

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for process in processes:
            if process.poll() is not None:
                raise RuntimeError(f"{process.args[0]} exited with {process.returncode}")
        try:
            if requests.get(f"{base}/healthz", timeout=2).status_code == 200:
                return
        except requests.RequestException:
            pass
        time.sleep(0.2)
    raise TimeoutError("gunicorn did not answer /healthz")


def wait_worker(name_prefix: str, timeout: float = 60) -> None:
    from arpilot.celery import app

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        if any(name.startswith(name_prefix) for reply in replies for name in reply):
            return
    raise TimeoutError("the Celery worker did not answer a ping")


# --- CPU accounting (as in bench/webhooks_throughput.py) ---------------------------------------


def _cpu_seconds(pid: int) -> float:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    total, stack = 0.0, [pid]
    while stack:
        current = stack.pop()
        total += _cpu_seconds(current)
        for children in Path(f"/proc/{current}/task").glob("*/children"):
            try:
                stack.extend(int(child) for child in children.read_text().split())
            except OSError:
                continue
    return total


def _postgres_cpu_seconds() -> float:
    total = 0.0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        if "(postgres)" in text:
            total += _cpu_seconds(int(stat.parent.name))
    return total


def cpu_sample(pids: dict) -> dict:
    sample = {"clients (this process)": _cpu_seconds(os.getpid())}
    sample.update((name, _tree_cpu_seconds(pid)) for name, pid in pids.items())
    sample["postgres (all backends)"] = _postgres_cpu_seconds()
    return sample


# --- seeding -----------------------------------------------------------------------------------


def seed(customers: int, invoices: int) -> tuple:
    """One organization, ``customers`` customers, ``invoices`` overdue invoices (services)."""
    from django.db import transaction

    from arpilot import services as org_services
    from customers import services as customer_services
    from receivables import services as receivables

    organization = org_services.organization_create(name=ORG_NAME)
    made = []
    with transaction.atomic():
        for index, name in enumerate(service_customer_names(customers)):
            slug = f"c{index}"
            made.append(
                customer_services.customer_create(
                    organization=organization,
                    company_name=name,
                    contacts=[
                        {
                            "contact_name": f"AP Clerk {index}",
                            "email": f"ap.{slug}@example.com",
                            "is_primary": True,
                        }
                    ],
                    external_id=f"C-{1001 + index}",
                    address=f"{100 + index} Commerce Way",
                )
            )
    book = list(service_invoices(invoices, date.today()))
    for start in range(0, invoices, 100):
        with transaction.atomic():
            for number, invoice_number, amount, issued, due in book[start : start + 100]:
                receivables.invoice_create(
                    organization=organization,
                    customer=made[number % len(made)],
                    invoice_number=invoice_number,
                    amount=amount,
                    issue_date=issued,
                    due_date=due,
                )
    return organization, [(str(c.pk), c.company_name) for c in made]


def create_api_key() -> str:
    out = subprocess.run(
        [sys.executable, "manage.py", "create_api_key", "--organization", ORG_NAME,
         "--name", "bench-load"],
        cwd=APP_DIR, env=child_env(), check=True, capture_output=True, text=True,
    )  # fmt: skip
    return out.stdout.strip().splitlines()[-1].strip()


# --- the mix -----------------------------------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.latencies: dict[str, list[float]] = collections.defaultdict(list)
        self.statuses: collections.Counter = collections.Counter()  # (kind, status) non-2xx
        self.samples: list[tuple[str, int, str]] = []  # a few error bodies
        self.matching: collections.Counter = collections.Counter()

    def add(self, kind: str, seconds: float, status) -> None:
        with self.lock:
            self.latencies[kind].append(seconds * 1000)
            if not (isinstance(status, int) and 200 <= status < 300):
                self.statuses[(kind, status)] += 1


def client_loop(
    index: int, base: str, key: str, customers: list, deadline: float, rec: Recorder, every: int
) -> None:
    import json as jsonlib
    from urllib.parse import urlsplit

    import urllib3

    # urllib3 (what requests is built on) without requests' per-request work (proxy settings
    # from the environment, cookies, hooks): the clients share the two cores with the server,
    # and requests cost ~1.2 ms of CPU a request, ~9 % of the box at 140 requests/s.
    where = urlsplit(base)
    pool = urllib3.HTTPConnectionPool(
        where.hostname, where.port, maxsize=1, block=True, timeout=60, retries=False
    )
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    rng = random.Random(1000 + index)
    today = date.today()
    sequence = 0

    def call(kind: str, method: str, path: str, json=None):
        started = time.perf_counter()
        try:
            body = None if json is None else jsonlib.dumps(json).encode()
            response = pool.urlopen(method, path, body=body, headers=headers, retries=False)
        except urllib3.exceptions.HTTPError as exc:
            rec.add(kind, time.perf_counter() - started, f"exc:{type(exc).__name__}")
            return None
        rec.add(kind, time.perf_counter() - started, response.status)
        if not 200 <= response.status < 300:
            with rec.lock:
                if len(rec.samples) < 8:
                    text = response.data.decode("utf-8", "replace")[:300]
                    rec.samples.append((kind, response.status, text))
            return None
        return jsonlib.loads(response.data)

    def new_invoice(customer_id: str):
        nonlocal sequence
        sequence += 1
        number = f"INV-{(index + 1) * 100_000 + sequence}"
        amount = f"{Decimal(rng.randrange(5_000, 500_000)) / 100:.2f}"
        body = call(
            "create invoice",
            "POST",
            "/api/v1/invoices",
            {
                "invoice_number": number,
                "customer_id": customer_id,
                "amount": amount,
                "due_date": (today + timedelta(days=30)).isoformat(),
            },
        )
        return (body["data"]["id"], number, amount) if body else None

    loop = 0
    while time.perf_counter() < deadline:
        loop += 1
        call("list", "GET", "/api/v1/invoices?status=overdue&per_page=100")
        customer_id, customer_name = rng.choice(customers)
        call("customer", "GET", f"/api/v1/customers/{customer_id}")
        invoice = new_invoice(customer_id)
        if invoice:
            _, number, amount = invoice
            body = call(
                "import payment",
                "POST",
                "/api/v1/payments",
                {
                    "amount": amount,
                    "payment_date": today.isoformat(),
                    "payer_name": customer_name,
                    "payer_reference": number,
                },
            )
            if body:
                applied = body["data"]["auto_applied"] and body["data"]["status"] == "applied"
                with rec.lock:
                    rec.matching["auto-applied (expected)" if applied else "NOT auto-applied"] += 1
        if loop % every == 0:
            other = new_invoice(customer_id)
            if other:
                body = call(
                    "import payment",
                    "POST",
                    "/api/v1/payments",
                    {
                        "amount": other[2],
                        "payment_date": today.isoformat(),
                        "payer_name": f"Wire transfer {rng.randrange(10**9)}",
                        "payer_reference": f"ref {rng.randrange(10**9):x}",
                    },
                )
                if body:
                    with rec.lock:
                        rec.matching[
                            "stranger's payment auto-applied"
                            if body["data"]["auto_applied"]
                            else "stranger's payment left for a clerk (expected)"
                        ] += 1
                    call(
                        "apply",
                        "PATCH",
                        f"/api/v1/payments/{body['data']['id']}",
                        {"invoice_id": other[0]},
                    )
    pool.close()


# --- what PostgreSQL is doing ------------------------------------------------------------------


class ActivitySampler(threading.Thread):
    """Samples the bench database's backends every ``interval`` seconds."""

    def __init__(self, url: str, interval: float = 0.2) -> None:
        super().__init__(daemon=True)
        self.url, self.interval = url, interval
        self.stop_event = threading.Event()
        self.samples = 0
        self.states: collections.Counter = collections.Counter()
        self.waits: collections.Counter = collections.Counter()
        self.queries: collections.Counter = collections.Counter()
        self.lock_queries: collections.Counter = collections.Counter()
        self.max_active = 0
        self.max_connections = 0
        self.long: list[tuple[float, str]] = []

    def run(self) -> None:
        import psycopg

        name = urlparse(self.url).path.lstrip("/")
        with psycopg.connect(self.url, autocommit=True) as conn:
            while not self.stop_event.wait(self.interval):
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event, left(regexp_replace(query, "
                    "'\\s+', ' ', 'g'), 90), extract(epoch FROM now() - query_start) "
                    "FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid() "
                    "AND backend_type = 'client backend'",
                    (name,),
                ).fetchall()
                self.samples += 1
                self.max_connections = max(self.max_connections, len(rows))
                active = 0
                for state, wtype, wevent, query, age in rows:
                    self.states[state or "?"] += 1
                    if state in ("active", "idle in transaction"):
                        active += state == "active"
                    if state == "active":
                        self.waits[f"{wtype}:{wevent}" if wtype else "CPU (no wait)"] += 1
                        self.queries[query] += 1
                        if wtype == "Lock":
                            self.lock_queries[query] += 1
                        if age and age > 1:
                            self.long.append((float(age), query))
                self.max_active = max(self.max_active, active)

    def report(self) -> list[str]:
        n = max(self.samples, 1)
        lines = [
            f"  {self.samples} samples; connections up to {self.max_connections}, active up to "
            f"{self.max_active}; mean backends per sample by state: "
            + ", ".join(f"{s} {c / n:.1f}" for s, c in self.states.most_common())
        ]
        lines.append(
            "  active backends by wait (mean per sample): "
            + ", ".join(f"{w} {c / n:.2f}" for w, c in self.waits.most_common(6))
        )
        lines.append("  statements seen running most often (samples):")
        lines += [f"    {c:5d}  {q}" for q, c in self.queries.most_common(8)]
        if self.lock_queries:
            lines.append("  statements seen waiting on a lock (samples):")
            lines += [f"    {c:5d}  {q}" for q, c in self.lock_queries.most_common(5)]
        if self.long:
            worst = sorted(self.long, reverse=True)[:3]
            lines.append(
                "  longest running seen: " + "; ".join(f"{a:.1f} s {q[:60]}" for a, q in worst)
            )
        return lines


# --- checks ------------------------------------------------------------------------------------

MONEY_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE i.amount_due <> i.amount - coalesce(a.applied, 0)
                                             - coalesce(o.offline, 0) - coalesce(c.credited, 0)),
       count(*) FILTER (WHERE i.amount_due = 0 AND i.status <> 'paid')
FROM receivables_invoice i
LEFT JOIN (SELECT invoice_id, sum(coalesce(invoice_amount, amount) + write_off_amount) AS applied
           FROM payments_paymentallocation WHERE unapplied_at IS NULL GROUP BY invoice_id) a
       ON a.invoice_id = i.id
LEFT JOIN (SELECT invoice_id, sum(amount) AS credited
           FROM credits_creditnoteallocation WHERE unapplied_at IS NULL GROUP BY invoice_id) c
       ON c.invoice_id = i.id
LEFT JOIN (SELECT invoice_id, sum(amount) AS offline
           FROM receivables_invoiceofflinepayment WHERE reversed_at IS NULL
           GROUP BY invoice_id) o
       ON o.invoice_id = i.id
WHERE i.organization_id = %s AND i.status <> 'void'
"""
PAYMENT_SQL = """
SELECT count(*),
       count(*) FILTER (WHERE p.applied_amount <> coalesce(a.applied, 0)
                           OR p.applied_amount > p.amount)
FROM payments_payment p
LEFT JOIN (SELECT payment_id, sum(amount) AS applied
           FROM payments_paymentallocation WHERE unapplied_at IS NULL GROUP BY payment_id) a
       ON a.payment_id = p.id
WHERE p.organization_id = %s
"""


def money_check(organization_id: int) -> tuple[int, int, int, int, int]:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(MONEY_SQL, [organization_id])
        invoices, mismatched, paid_not_paid = cursor.fetchone()
        cursor.execute(PAYMENT_SQL, [organization_id])
        payments, payment_mismatched = cursor.fetchone()
    return invoices, mismatched, paid_not_paid, payments, payment_mismatched


def pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    k = (len(ordered) - 1) * p / 100
    lo = int(k)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (k - lo)


# --- modes -------------------------------------------------------------------------------------


APP_PACKAGES = ("arpilot", "customers", "receivables", "payments", "reconciliation", "webhooks")


def use_app_dir(app_dir: Path | None) -> None:
    """Measure the application in ``app_dir`` (``--app-dir``) instead of this checkout.

    The one place in ``bench/`` that edits ``sys.path``, on purpose: ``--app-dir`` runs this
    checkout's benchmark against another checkout's code (e.g. a ``git archive`` of a commit
    while this tree is being edited). gunicorn, the Celery worker and ``manage.py`` get it
    from their working directory and ``PYTHONPATH`` (``child_env``), but this process also
    runs the application (migrate, seeding through the services, ``--queries``), so the
    measured packages must come first on its own path and this checkout's must not shadow
    them. That only works before Django or an application package is imported, which is
    checked (``bench.book`` imports none at import time). The ``bench`` package itself stays
    this checkout's: it is already imported.
    """
    global APP_DIR
    APP_DIR = app_dir.resolve() if app_dir else BASE_DIR
    if APP_DIR != BASE_DIR:
        loaded = [name for name in ("django", *APP_PACKAGES) if name in sys.modules]
        if loaded:
            raise RuntimeError(f"--app-dir: {', '.join(loaded)} already imported from here")
        here = ("", ".", str(BASE_DIR))
        sys.path[:] = [str(APP_DIR), *(p for p in sys.path if p not in here)]
    os.chdir(APP_DIR)  # Celery's Django fixup puts the working directory first on sys.path


def setup(args) -> tuple:
    use_app_dir(Path(args.app_dir) if args.app_dir else None)
    os.environ["DATABASE_URL"] = args.database_url
    os.environ["REDIS_URL"] = args.redis_url
    os.environ["ARPILOT_API_RATE"] = args.rate
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")
    started = time.perf_counter()
    if getattr(args, "reuse", False):
        reused = reuse_database(args)
        if reused:
            return reused
    recreate_database(args.database_url)
    flush_redis(args.redis_url)
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    migrated = time.perf_counter()
    organization, customers = seed(args.customers, args.invoices)
    from django.db import connection

    if connection.vendor == "postgresql":
        # Statistics, as autovacuum keeps them in production: this box's PostgreSQL runs with
        # autovacuum off, and with none the candidate read of an import was planned as a
        # nested loop over every open invoice (7 ms more PostgreSQL CPU per import).
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
    seeded = time.perf_counter()
    print(
        f"database {urlparse(args.database_url).path.lstrip('/')}: migrated in "
        f"{migrated - started:.1f} s; seeded {len(customers)} customers and {args.invoices} "
        f"overdue invoices in {seeded - migrated:.1f} s (load average {loadavg()})"
    )
    import arpilot

    print(f"application: {Path(arpilot.__file__).parent.parent}")
    return organization, customers


def reuse_database(args) -> tuple | None:
    """``--reuse`` (profiling only): the organization of a database a ``--keep`` run left, or
    None when there is none (then it is made as usual)."""
    import psycopg

    try:
        psycopg.connect(args.database_url).close()
    except psycopg.OperationalError:
        return None
    import django

    django.setup()
    from django.core.management import call_command

    from arpilot.models import Organization
    from customers.models import Customer

    call_command("migrate", verbosity=0)  # the tree may have gained migrations since

    organization = Organization.objects.filter(name=ORG_NAME).first()
    if organization is None:
        return None
    customers = [
        (str(pk), name)
        for pk, name in Customer.objects.filter(organization=organization)
        .order_by("external_id")
        .values_list("pk", "company_name")
    ]
    print(f"reusing database {urlparse(args.database_url).path.lstrip('/')}")
    return organization, customers


def run_queries(args) -> None:
    organization, customers = setup(args)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext
    from rest_framework.test import APIClient

    from arpilot.celery import app
    from arpilot.services import api_key_create

    app.conf.task_always_eager = True  # a request's tasks count as its own
    _, key = api_key_create(organization=organization, name="bench-queries")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    today = date.today()
    counts: dict[str, list[int]] = collections.defaultdict(list)
    millis: dict[str, list[float]] = collections.defaultdict(list)
    statements: dict[str, list[str]] = {}

    def measure(kind, method, path, body=None):
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as captured:
            if method == "get":
                response = client.get(path)
            else:
                response = getattr(client, method)(path, body, format="json")
        assert 200 <= response.status_code < 300, (kind, response.status_code, response.content)
        millis[kind].append((time.perf_counter() - started) * 1000)
        counts[kind].append(len(captured))
        statements[kind] = [q["sql"] for q in captured.captured_queries]
        return response.json()

    for round_ in range(3):  # the first round warms per-process caches; the last is reported
        customer_id, name = customers[round_]
        number = f"INV-Q{round_}"
        measure("list", "get", "/api/v1/invoices?status=overdue&per_page=100")
        measure("customer", "get", f"/api/v1/customers/{customer_id}")
        body = {"invoice_number": number, "customer_id": customer_id, "amount": "123.45",
                "due_date": (today + timedelta(days=30)).isoformat()}  # fmt: skip
        measure("create invoice", "post", "/api/v1/invoices", body)
        paid = measure(
            "import payment",
            "post",
            "/api/v1/payments",
            {"amount": "123.45", "payment_date": today.isoformat(), "payer_name": name,
             "payer_reference": number},
        )  # fmt: skip
        assert paid["data"]["auto_applied"], "the payment was not auto-applied"
        other = measure(
            "create invoice (2nd)",
            "post",
            "/api/v1/invoices",
            {**body, "invoice_number": number + "B"},
        )
        stranger = measure(
            "import payment (no match)",
            "post",
            "/api/v1/payments",
            {"amount": "123.45", "payment_date": today.isoformat(),
             "payer_name": f"Wire transfer {round_}", "payer_reference": f"ref {round_}"},
        )  # fmt: skip
        measure(
            "apply",
            "patch",
            f"/api/v1/payments/{stranger['data']['id']}",
            {"invoice_id": other["data"]["id"]},
        )
    print(
        f"SQL statements per request (rounds 1, 2, 3) and in-process wall ms of round 3 "
        f"(load average {loadavg()}):"
    )
    for kind, values in counts.items():
        target = QUERY_TARGETS.get(kind.split(" (")[0]) if "(2nd)" not in kind else None
        note = ""
        if target and not kind.endswith("(no match)"):
            note = f"   target ≤ {target}: {'met' if values[-1] <= target else 'NOT met'}"
        print(f"  {kind:28s} {', '.join(map(str, values)):>12s} {millis[kind][-1]:7.1f} ms{note}")
    if args.show_sql:
        for kind, sqls in statements.items():
            print(f"\n-- {kind} ({len(sqls)})")
            for sql in sqls:
                print("   ", sql[:220])
    connection.close()
    if not args.keep:
        drop_database(args.database_url)


def run_profile(args) -> None:
    """Each request kind of the mix ``--profile N`` times in process (the DRF test client,
    tasks inline) under cProfile: CPU ms per request and the functions that cost most."""
    import cProfile
    import pstats

    organization, customers = setup(args)
    from django.db import connection
    from rest_framework.test import APIClient

    from arpilot.celery import app
    from arpilot.services import api_key_create

    app.conf.task_always_eager = True
    _, key = api_key_create(organization=organization, name="bench-profile")
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {key}")
    today = date.today()
    due = (today + timedelta(days=30)).isoformat()
    serial = iter(range(int(time.time() * 1000), 10**15))  # unique across --reuse runs

    def send(method, path, body=None):
        if method == "get":
            response = client.get(path)
        else:
            response = getattr(client, method)(path, body, format="json")
        assert 200 <= response.status_code < 300, (path, response.status_code, response.content)
        return response.json()

    def new_invoice(index):
        customer_id, name = customers[index % len(customers)]
        number = f"INV-P{next(serial)}"
        body = {"invoice_number": number, "customer_id": customer_id, "amount": "123.45",
                "due_date": due}  # fmt: skip
        return send("post", "/api/v1/invoices", body)["data"], name, number

    def payment_body(name, reference):
        return {"amount": "123.45", "payment_date": today.isoformat(), "payer_name": name,
                "payer_reference": reference}  # fmt: skip

    def kinds(index):
        """(kind, preparation, the request): the preparation is not profiled."""
        customer_id, _ = customers[index % len(customers)]
        yield "list", None, lambda _: send("get", "/api/v1/invoices?status=overdue&per_page=100")
        yield "customer", None, lambda _: send("get", f"/api/v1/customers/{customer_id}")
        yield "create invoice", None, lambda _: new_invoice(index)
        yield (
            "import payment",
            lambda: new_invoice(index),
            lambda prepared: send("post", "/api/v1/payments", payment_body(*prepared[1:])),
        )
        yield (
            "apply",
            lambda: (
                new_invoice(index)[0]["id"],
                send("post", "/api/v1/payments", payment_body(f"Wire {index}", f"ref {index}")),
            ),
            lambda prepared: send(
                "patch",
                f"/api/v1/payments/{prepared[1]['data']['id']}",
                {"invoice_id": prepared[0]},
            ),
        )

    for index in range(3):  # warm per-process caches
        for _, prepare, request in kinds(index):
            request(prepare() if prepare else None)
    # CPU without the profiler: this process (the request and the tasks it runs eagerly) and
    # the PostgreSQL backend serving it (/proc, clock ticks: summed over the N requests).
    backend = connection.cursor().connection.info.backend_pid
    plain = collections.Counter()
    plain_pg = collections.Counter()
    for index in range(args.profile):
        for kind, prepare, request in kinds(100 + index):
            prepared = prepare() if prepare else None
            started, started_pg = time.process_time(), _cpu_seconds(backend)
            request(prepared)
            plain[kind] += time.process_time() - started
            plain_pg[kind] += _cpu_seconds(backend) - started_pg
    print(
        f"CPU ms per request without the profiler, {args.profile} each (load average "
        f"{loadavg()}): Python (request + eager tasks) / its PostgreSQL backend"
    )
    for kind in KINDS:
        print(
            f"  {kind:16s} {plain[kind] * 1000 / args.profile:7.1f} "
            f"{plain_pg[kind] * 1000 / args.profile:7.1f}"
        )
    # The profiler's clock is the wall clock (a CPU clock costs a system call per function
    # call, which inflated everything 5-fold): psycopg's Connection.wait is PostgreSQL's time.
    profiles = {kind: cProfile.Profile() for kind in KINDS}
    cpu = collections.Counter()
    for index in range(args.profile):
        for kind, prepare, request in kinds(index):
            prepared = prepare() if prepare else None
            started = time.process_time()
            profiles[kind].enable()
            request(prepared)
            profiles[kind].disable()
            cpu[kind] += time.process_time() - started
    print(f"CPU ms per request under cProfile, {args.profile} each (load average {loadavg()}):")
    for kind in KINDS:
        print(f"  {kind:16s} {cpu[kind] * 1000 / args.profile:7.1f}")
    for kind in KINDS:
        print(f"\n-- {kind}: the top functions by own time, then by cumulative time")
        stats = pstats.Stats(profiles[kind])
        stats.sort_stats("tottime").print_stats(18)
        stats.sort_stats("cumulative").print_stats(30)
    connection.close()
    if not args.keep:
        drop_database(args.database_url)


def run_load(args) -> None:
    import requests

    run_started = time.perf_counter()
    organization, customers = setup(args)
    from django.db import connection

    key = create_api_key()
    connection.close()
    logdir = Path(tempfile.mkdtemp(prefix="arpilot-load-"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    gunicorn = worker = None
    sampler = ActivitySampler(args.database_url)
    args.workers, args.threads = gunicorn_shape(args.workers, args.threads)
    try:
        gunicorn = start_gunicorn(port, args.workers, args.threads, logdir / "gunicorn.log")
        worker = start_worker(args.worker_concurrency, logdir / "celery.log")
        wait_healthy(base, [gunicorn, worker])
        wait_worker(f"bench-load-{os.getpid()}@")
        # One request of each reading kind per gunicorn worker thread, so imports are warm.
        warm = requests.Session()
        warm.headers["Authorization"] = f"Bearer {key}"
        for _ in range(args.workers * 2):
            warm.get(f"{base}/api/v1/invoices?status=overdue&per_page=100", timeout=60)
            warm.get(f"{base}/api/v1/customers/{customers[0][0]}", timeout=60)
        warm.close()

        rec = Recorder()
        pids = {f"gunicorn ({args.workers} workers)": gunicorn.pid, "celery worker": worker.pid}
        spies = []
        for name, pid in (
            (("gunicorn", gunicorn.pid), ("celery", worker.pid)) if args.py_spy else ()
        ):
            command = [
                args.py_spy, "record", "--pid", str(pid), "--subprocesses", "--nonblocking",
                "--rate", "200", "--format", "raw", "--duration", str(int(args.seconds)),
                "--output", str(logdir / f"{name}.py-spy.txt"),
            ]  # fmt: skip
            spies.append(
                subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            )
        before_load = loadavg()
        cpu_before = cpu_sample(pids)
        sampler.start()
        started = time.perf_counter()
        deadline = started + args.seconds
        threads = [
            threading.Thread(
                target=client_loop,
                args=(i, base, key, customers, deadline, rec, args.apply_every),
                daemon=True,
            )
            for i in range(args.clients)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        sampler.stop_event.set()
        cpu_after = cpu_sample(pids)
        after_load = loadavg()
        time.sleep(1)  # the worker's last tasks (events) before the processes stop
        for spy in spies:
            spy.wait(60)
    finally:
        stop(gunicorn)
        stop(worker)
        sampler.stop_event.set()

    total = sum(len(v) for v in rec.latencies.values())
    rps = total / elapsed
    print(
        f"\n{args.clients} clients for {args.seconds:g} s (ran {elapsed:.1f} s); gunicorn "
        f"{args.workers} workers x {args.threads} threads, celery worker concurrency "
        f"{args.worker_concurrency}; load average before {before_load}, after {after_load}"
    )
    print(f"requests/s: {rps:.1f}  ({total} requests)")
    print(f"  {'kind':16s} {'count':>6s} {'p50':>8s} {'p95':>8s} {'p99':>8s} {'max':>8s} ms")
    worst_p95 = 0.0
    worst_max = 0.0
    for kind in KINDS:
        values = rec.latencies.get(kind, [])
        p95 = pct(values, 95)
        worst_p95 = max(worst_p95, p95 if values else 0)
        worst_max = max([worst_max, *values])
        print(
            f"  {kind:16s} {len(values):6d} {pct(values, 50):8.1f} {p95:8.1f} "
            f"{pct(values, 99):8.1f} {max(values, default=float('nan')):8.1f}"
        )
    over_5s = sum(v > TARGET_MAX_MS_64 for vs in rec.latencies.values() for v in vs)
    errors = sum(rec.statuses.values())
    print(f"non-2xx / failed requests: {errors}")
    for (kind, status), count in sorted(rec.statuses.items(), key=str):
        print(f"  {kind}: {status} x {count}")
    for kind, status, text in rec.samples[:4]:
        print(f"  e.g. {kind} {status}: {text[:200]}")
    print("matching: " + ", ".join(f"{k} {v}" for k, v in sorted(rec.matching.items())))

    import django.db

    django.db.connections.close_all()
    invoices, mismatched, paid_not_paid, payments, payment_mismatched = money_check(organization.pk)
    print(
        f"money check: {invoices} invoices, {mismatched} with amount_due ≠ amount - applied - "
        f"offline; {paid_not_paid} at 0 due but not 'paid'; {payments} payments, "
        f"{payment_mismatched} with applied_amount ≠ their allocations"
    )
    seconds = {n: cpu_after[n] - cpu_before[n] for n in cpu_after}
    print(
        "CPU seconds during the load: "
        + ", ".join(f"{n} {s:.1f}" for n, s in seconds.items())
        + f" (of {elapsed * (os.cpu_count() or 1):.0f} core-seconds on {os.cpu_count()} cores)"
    )
    print(f"PostgreSQL activity (database {urlparse(args.database_url).path.lstrip('/')}):")
    print("\n".join(sampler.report()))
    for name in ("gunicorn.log", "celery.log"):
        path = logdir / name
        text = path.read_text(errors="replace") if path.exists() else ""
        notable = [
            line for line in text.splitlines()
            if any(w in line for w in ("ERROR", "CRITICAL", "TIMEOUT", "Traceback", "WARNING"))
        ]  # fmt: skip
        print(f"{name}: {len(text.splitlines())} lines, {len(notable)} warnings/errors")
        for line in notable[:5]:
            print(f"    {line[:200]}")
    print(f"logs kept in {logdir}")

    print("\nagainst the targets:")
    if args.clients <= 16:
        print(f"  rps {rps:.1f} (target ≥ {TARGET_RPS:g}: {rps / TARGET_RPS:.2f}x)")
        for kind in KINDS:
            values = rec.latencies.get(kind, [])
            if values:
                p95 = pct(values, 95)
                verdict = "met" if p95 <= TARGET_P95_MS else "NOT met"
                print(
                    f"  p95 {kind}: {p95:.0f} ms (target ≤ {TARGET_P95_MS:g}: "
                    f"{p95 / TARGET_P95_MS:.2f}x the budget, {verdict})"
                )
    else:
        print(
            f"  slowest request {worst_max:.0f} ms; {over_5s} over 5 s (target: none, "
            f"{worst_max / TARGET_MAX_MS_64:.2f}x the 5 s budget)"
        )
    print(f"  errors {errors} (target 0); money mismatches {mismatched + payment_mismatched} "
          f"(target 0)")  # fmt: skip
    if not args.keep:
        drop_database(args.database_url)
    else:
        print(f"database kept: {args.database_url}")
    print(f"whole run (setup, load, checks): {time.perf_counter() - run_started:.1f} s")


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--queries", action="store_true", help="count SQL per request, no load")
    parser.add_argument("--show-sql", action="store_true", help="with --queries: the statements")
    parser.add_argument(
        "--profile",
        type=int,
        metavar="N",
        help="profile each request kind N times in process (cProfile), no load",
    )
    parser.add_argument("--keep", action="store_true", help="leave the database at the end")
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --profile: reuse the database a --keep run left (no migrate, no seeding)",
    )
    parser.add_argument("--database-url", default=DEFAULT_DB)
    parser.add_argument("--redis-url", default=DEFAULT_REDIS)
    parser.add_argument("--rate", default="1000000/min", help="ARPILOT_API_RATE")
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--invoices", type=int, default=2000)
    parser.add_argument(
        "--workers", type=int, help="gunicorn --workers (default: gunicorn.conf.py's)"
    )
    parser.add_argument(
        "--threads", type=int, help="gunicorn --threads (default: gunicorn.conf.py's)"
    )
    parser.add_argument("--worker-concurrency", type=int, default=2, help="celery --concurrency")
    parser.add_argument("--apply-every", type=int, default=5, help="loops between applies")
    parser.add_argument(
        "--py-spy",
        metavar="PATH",
        help="sample gunicorn and the Celery worker with this py-spy during the load (raw "
        "stacks written beside the logs: gunicorn.py-spy.txt, celery.py-spy.txt)",
    )
    parser.add_argument(
        "--app-dir",
        help="measure the application in this directory instead of this checkout (e.g. "
        "`git archive HEAD | tar -x -C DIR`, to measure a commit while the tree is edited)",
    )
    args = parser.parse_args(argv)
    if args.queries:
        run_queries(args)
    elif args.profile:
        run_profile(args)
    else:
        run_load(args)


if __name__ == "__main__":
    main()
