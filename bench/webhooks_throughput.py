"""Webhook delivery throughput: the whole path against a bare thread pool.

Whole path: an event is committed through ``event_emit`` (outbox rows + a task per
delivery, sent after commit), a real Celery worker claims the delivery, signs it, POSTs it
to a receiver on 127.0.0.1 and records the attempt. Bare: a ThreadPoolExecutor POSTs the same
signed bodies to the same receiver with the same HTTP client. Both rates are printed with
their ratio (the target is >= 0.5).

Needs PostgreSQL and Redis, and writes to the database it is given (it migrates it, makes a
throwaway organization and deletes it again):

    DATABASE_URL=postgres://postgres@127.0.0.1/arpilot_bench REDIS_URL=redis://127.0.0.1:6379/5 \
        .venv/bin/python -m bench.webhooks_throughput --events 2000

The worker runs as production runs it (``celery -A arpilot worker``: the prefork pool, one
process per core); ``--pool threads --concurrency 8`` tries a threaded worker instead.
"""

import argparse
import multiprocessing
import os
import subprocess
import sys
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent  # the checkout: the Celery worker runs from it
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "arpilot.settings")
os.environ["ARPILOT_WEBHOOKS_ALLOW_INSECURE"] = "1"  # the receiver is on loopback


# --- CPU accounting ---------------------------------------------------------------------------


def _cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a live process (all its threads), 0 if it is gone."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _tree_cpu_seconds(pid: int) -> float:
    """The process and its live descendants (a prefork worker's pool processes)."""
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


class CpuMeter:
    """CPU seconds spent by this process, the worker, the receiver and PostgreSQL meanwhile
    (backends that exit during the run are not counted)."""

    def __init__(self, **pids: int) -> None:
        self.pids = pids
        self.start = self._sample()

    def _sample(self) -> dict[str, float]:
        sample = {"bench (emitting)": _cpu_seconds(os.getpid())}
        sample.update((name, _tree_cpu_seconds(pid)) for name, pid in self.pids.items())
        sample["postgres"] = _postgres_cpu_seconds()
        return sample

    def report(self, deliveries: int) -> str:
        end = self._sample()
        return ", ".join(
            f"{name} {(end[name] - self.start[name]) / deliveries * 1000:.2f}" for name in end
        )


# --- receiver (its own process, so it takes no CPU from either sender's interpreter) ----------


def _receiver_main(port_queue, count, lock) -> None:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            ok = bool(self.headers.get("webhook-signature"))
            self.send_response(200 if ok else 400)
            self.send_header("Content-Length", "0")
            self.end_headers()
            with lock:
                count.value += 1

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.request_queue_size = 256
    port_queue.put(server.server_address[1])
    server.serve_forever()


class Receiver:
    def __init__(self) -> None:
        ctx = multiprocessing.get_context("spawn")
        self.count = ctx.Value("l", 0, lock=False)
        self.lock = ctx.Lock()
        port_queue = ctx.Queue()
        self.process = ctx.Process(
            target=_receiver_main, args=(port_queue, self.count, self.lock), daemon=True
        )
        self.process.start()
        self.url = f"http://127.0.0.1:{port_queue.get(timeout=30)}/hook"

    def reset(self) -> None:
        with self.lock:
            self.count.value = 0

    def wait_for(self, n: int, timeout: float) -> float:
        """Seconds on the perf clock when the n-th request arrived (polled every 2 ms)."""
        deadline = time.perf_counter() + timeout
        while self.count.value < n:
            if time.perf_counter() > deadline:
                raise TimeoutError(f"receiver got {self.count.value} of {n} requests")
            time.sleep(0.002)
        return time.perf_counter()

    def stop(self) -> None:
        self.process.terminate()
        self.process.join(5)


# --- the two senders --------------------------------------------------------------------------


def bare_rate(receiver: Receiver, bodies: list[tuple[bytes, dict]], concurrency: int) -> float:
    import requests

    local = threading.local()

    def post(item):
        session = getattr(local, "session", None)
        if session is None:
            session = local.session = requests.Session()
        body, headers = item
        session.post(receiver.url, data=body, headers=headers, timeout=15).raise_for_status()

    receiver.reset()
    cpu = CpuMeter(receiver=receiver.process.pid)
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        started = time.perf_counter()
        list(pool.map(post, bodies))
    finished = receiver.wait_for(len(bodies), timeout=60)
    print(f"  CPU ms per request: {cpu.report(len(bodies))}")
    return len(bodies) / (finished - started)


def _start_worker(queue: str, pool: str, concurrency: int, prefetch: int) -> subprocess.Popen:
    command = [
        sys.executable, "-m", "celery", "-A", "arpilot", "worker", f"--pool={pool}",
        f"--concurrency={concurrency}", "-Q", queue, "--loglevel", os.environ.get("BENCH_WORKER_LOGLEVEL", "WARNING"),
        "--without-gossip", "--without-mingle", "--without-heartbeat",
        "-n", f"bench-{queue}@%h", f"--prefetch-multiplier={prefetch}",
    ]  # fmt: skip
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(command, cwd=BASE_DIR, env=env, start_new_session=True)


def _wait_worker_ready(app, name: str, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        replies = app.control.ping(timeout=0.5) or []
        if any(name in reply for reply in replies):
            return
    raise TimeoutError("Celery worker did not answer a ping")


def _sweep(stop: threading.Event) -> None:
    """What beat does every minute in production: queue deliveries whose task was lost."""
    from django.db import connection

    from webhooks import services

    while not stop.wait(5):
        if queued := services.deliveries_requeue_due():
            print(f"  sweeper re-queued {queued} deliveries")
    connection.close()


def celery_rate(
    receiver,
    organization,
    *,
    events: int,
    emitters: int,
    pool: str,
    concurrency: int,
    prefetch: int,
) -> float:
    import socket

    from django.db import connection, transaction

    from arpilot.celery import app
    from webhooks import services
    from webhooks.models import WebhookDelivery

    queue = f"bench-{uuid.uuid4().hex[:8]}"
    app.conf.task_default_queue = queue
    worker = _start_worker(queue, pool, concurrency, prefetch)
    try:
        _wait_worker_ready(app, f"bench-{queue}@{socket.gethostname()}")
        receiver.reset()
        cpu = CpuMeter(worker=worker.pid, receiver=receiver.process.pid)

        def emit(n: int) -> None:
            with transaction.atomic():
                services.event_emit(
                    organization_id=organization.pk,
                    event_type="invoice.paid",
                    data={"invoice_id": str(uuid.uuid4()), "amount": 125.5, "n": n},
                )
            connection.close_if_unusable_or_obsolete()

        # Events come from concurrent transactions, as from web requests and other tasks.
        with ThreadPoolExecutor(max_workers=emitters) as pool:
            started = time.perf_counter()
            list(pool.map(emit, range(events)))
        emitted = time.perf_counter()
        stop_sweeping = threading.Event()
        threading.Thread(target=_sweep, args=(stop_sweeping,), daemon=True).start()
        try:
            finished = receiver.wait_for(events, timeout=300)
        finally:
            stop_sweeping.set()
        not_done = WebhookDelivery.objects.filter(organization=organization).exclude(
            status=WebhookDelivery.Status.SUCCEEDED
        )
        deadline = time.monotonic() + 30
        while not_done.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        # A batch's successes are recorded by one UPDATE, so they share updated_at.
        batches = not_done.model.objects.filter(organization=organization)
        batches = batches.values("updated_at").distinct().count()
        print(f"  emitting {events} events took {emitted - started:.2f} s")
        print(f"  sent in {batches} batches ({events / max(batches, 1):.1f} deliveries each)")
        print(f"  CPU ms per delivery: {cpu.report(events)}")
        return events / (finished - started)
    finally:
        os.killpg(worker.pid, 15)
        worker.wait(30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--threads", type=int, default=8, help="the bare pool's threads")
    parser.add_argument(
        "--pool",
        default="prefork",
        choices=["threads", "prefork", "solo"],
        help="the worker's pool (production runs the default, prefork)",
    )
    parser.add_argument(
        "--concurrency",
        type=int,
        default=os.cpu_count(),
        help="the worker's processes or threads (default: one per core, as celery does)",
    )
    parser.add_argument("--emitters", type=int, default=8, help="threads committing events")
    parser.add_argument(
        "--prefetch",
        type=int,
        default=1,
        help="worker --prefetch-multiplier (1, as in settings)",
    )
    args = parser.parse_args()
    if not (os.environ.get("DATABASE_URL") and os.environ.get("REDIS_URL")):
        sys.exit("Set DATABASE_URL (PostgreSQL) and REDIS_URL: the whole path needs both.")

    import django

    django.setup()
    from django.core.management import call_command

    from arpilot import services as arpilot_services
    from arpilot.outbound import signing as transport
    from webhooks import services

    call_command("migrate", verbosity=0)
    receiver = Receiver()
    organization = arpilot_services.organization_create(name=f"Webhook bench {uuid.uuid4()}")
    try:
        endpoint = services.endpoint_create(
            organization=organization, url=receiver.url, events=["*"]
        )
        bodies = []
        for n in range(args.events):
            payload = {"id": str(uuid.uuid4()), "type": "invoice.paid", "data": {"n": n}}
            body = transport.body_encode(payload)
            headers = transport.signed_headers(
                secrets_=[endpoint.secret], msg_id=payload["id"], body=body,
                timestamp=int(time.time()),
            )  # fmt: skip
            bodies.append((body, headers))

        print(
            f"{args.events} events; bare pool of {args.threads} threads; worker: "
            f"{args.pool} pool, concurrency {args.concurrency} ("
            f"prefetch multiplier {args.prefetch}, {args.emitters} emitting threads)"
        )
        bare = bare_rate(receiver, bodies, args.threads)
        print(f"  bare thread pool:        {bare:8.1f} deliveries/s")
        whole = celery_rate(
            receiver,
            organization,
            events=args.events,
            emitters=args.emitters,
            pool=args.pool,
            concurrency=args.concurrency,
            prefetch=args.prefetch,
        )
        print(f"  outbox + Celery worker:  {whole:8.1f} deliveries/s")
        print(f"  ratio: {whole / bare:.2f} (target >= 0.5)")
    finally:
        receiver.stop()
        try:
            organization.delete()
        except Exception as exc:  # an app whose tables this database lacks; the rows stay
            print(f"  (could not delete the bench organization: {exc})")


if __name__ == "__main__":
    main()
