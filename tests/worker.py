"""A real Celery worker, in a subprocess, against the test database and Redis.

Tests that need one are marked ``@pytest.mark.django_db(transaction=True)`` (the worker must
see committed rows) and ``@pytest.mark.celery_worker`` (tasks go to the broker instead of
running inline), and take ``celery_worker_process`` (one started worker) or
``celery_worker_factory`` (start, kill and restart several). They are skipped unless both
``DATABASE_URL`` (PostgreSQL) and ``REDIS_URL`` are set. Each test gets its own queue (the
test process sends there and its workers consume only it), so parallel test processes and
stale messages in a shared Redis never meet. Register the fixtures in a conftest
with ``from tests.worker import celery_worker_factory, celery_worker_process  # noqa: F401``.
"""

import os
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import pytest
from django.db import connection

BASE_DIR = Path(__file__).resolve().parent.parent
READY_TIMEOUT = 60.0


def worker_available() -> bool:
    return bool(os.environ.get("DATABASE_URL")) and bool(os.environ.get("REDIS_URL"))


def worker_database_url() -> str:
    """DATABASE_URL with its database name replaced by the test database pytest-django made."""
    parts = urlsplit(os.environ["DATABASE_URL"])
    return urlunsplit(parts._replace(path="/" + connection.settings_dict["NAME"]))


class CeleryWorker:
    """One ``celery -A arpilot worker`` process; ``output`` keeps what it printed."""

    def __init__(self, env: dict[str, str], *, pool: str, concurrency: int, queues: str) -> None:
        self.env = env
        self.pool = pool
        self.concurrency = concurrency
        self.queues = queues
        self.name = f"test-{uuid.uuid4().hex[:8]}@%h"
        self.process: subprocess.Popen | None = None
        self.lines: list[str] = []
        self._ready = threading.Event()

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def start(self, timeout: float = READY_TIMEOUT) -> "CeleryWorker":
        command = [
            sys.executable, "-m", "celery", "-A", "arpilot", "worker",
            f"--pool={self.pool}", f"--concurrency={self.concurrency}", "-Q", self.queues,
            "-n", self.name, "--loglevel=INFO",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
        ]  # fmt: skip
        self.process = subprocess.Popen(
            command,
            cwd=BASE_DIR,
            env=self.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        threading.Thread(target=self._read, daemon=True).start()
        deadline = time.monotonic() + timeout
        while not self._ready.wait(0.1):
            if self.process.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"Celery worker did not start:\n{self.output}")
        return self

    def _read(self) -> None:
        assert self.process is not None and self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line)
            if " ready." in line:
                self._ready.set()

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def kill(self) -> None:
        """SIGKILL the worker and its children at once: no warm shutdown, no acks."""
        if self.alive:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self, timeout: float = 10.0) -> None:
        if not self.alive:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@pytest.fixture
def celery_worker_factory(request, transactional_db) -> Iterator:
    """``start(**env)`` starts a worker (env added to the test's own); all stop at teardown.

    Options: ``pool`` ("solo", "threads", "prefork"), ``concurrency``, ``queues`` (default:
    this test's own queue, where the test process sends its tasks).
    """
    if not worker_available():
        pytest.skip("a real Celery worker needs DATABASE_URL (PostgreSQL) and REDIS_URL")
    if connection.vendor != "postgresql":
        pytest.skip("a real Celery worker needs the test database on PostgreSQL")
    if not request.node.get_closest_marker("celery_worker"):
        raise pytest.UsageError("mark tests using a real worker with @pytest.mark.celery_worker")
    from arpilot.celery import app

    workers: list[CeleryWorker] = []
    queue = f"arpilot-test-{uuid.uuid4().hex[:12]}"
    previous_queue = app.conf.task_default_queue
    app.conf.task_default_queue = queue  # read at every send by celery's router

    def start(*, pool: str = "solo", concurrency: int = 1, queues: str = queue, **env):
        worker_env = {
            **os.environ,
            "DATABASE_URL": worker_database_url(),
            "REDIS_URL": os.environ["REDIS_URL"],
            "PYTHONUNBUFFERED": "1",
            **{key: str(value) for key, value in env.items()},
        }
        worker = CeleryWorker(worker_env, pool=pool, concurrency=concurrency, queues=queues)
        workers.append(worker)
        return worker.start()

    try:
        yield start
    finally:
        app.conf.task_default_queue = previous_queue
        for worker in workers:
            worker.stop()


@pytest.fixture
def celery_worker_process(celery_worker_factory) -> CeleryWorker:
    """One started solo-pool worker on this test's queue."""
    return celery_worker_factory()
