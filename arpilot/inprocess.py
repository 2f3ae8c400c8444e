"""Embedded task execution for the default mode (no REDIS_URL).

Tasks sent with ``apply_async``/``delay`` go to a scheduler thread in this process that runs
each one at its ``eta``/``countdown`` on a small thread pool, and a beat thread fires
``CELERY_BEAT_SCHEDULE``. So delayed retries and periodic work (webhook retries, sweepers,
overdue marking) really happen on a newcomer's machine without Redis or a worker.

Rules that keep both modes alike: tasks take ids, are idempotent, and schedule their own
follow-ups with ``apply_async(countdown=…)`` rather than ``self.retry()``. Work pending when
the process exits is not kept here; the database rows it was about (outbox events, deliveries
due) are, and the periodic sweepers pick them up on the next start.
"""

import heapq
import itertools
import logging
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime

from celery.schedules import maybe_schedule
from django.db import connections
from django.utils import timezone

logger = logging.getLogger(__name__)


@dataclass
class SubmittedTask:
    """What ``apply_async`` returns in this mode: enough for callers that read ``.id``."""

    id: str
    name: str
    run_at: float = field(repr=False)


class InProcessScheduler:
    def __init__(self, workers: int = 2) -> None:
        self._heap: list = []
        self._seq = itertools.count()
        self._cv = threading.Condition()
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="arpilot-task")
        self._thread: threading.Thread | None = None
        self._beat_thread: threading.Thread | None = None
        self._running = 0

    def submit(self, task, args, kwargs, *, countdown=None, eta=None, **_options) -> SubmittedTask:
        delay = 0.0
        if eta is not None:
            delay = (eta - timezone.now()).total_seconds() if isinstance(eta, datetime) else 0.0
        elif countdown:
            delay = float(countdown)
        run_at = time.monotonic() + max(delay, 0.0)
        submitted = SubmittedTask(id=str(uuid.uuid4()), name=task.name, run_at=run_at)
        with self._cv:
            heapq.heappush(self._heap, (run_at, next(self._seq), task, tuple(args), dict(kwargs)))
            self._ensure_started()
            self._cv.notify_all()
        return submitted

    def pending(self) -> int:
        with self._cv:
            return len(self._heap)

    def _ensure_started(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(
                target=self._loop, name="arpilot-scheduler", daemon=True
            )
            self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._cv:
                while not self._heap or self._heap[0][0] > time.monotonic():
                    timeout = self._heap[0][0] - time.monotonic() if self._heap else None
                    self._cv.wait(timeout)
                _, _, task, args, kwargs = heapq.heappop(self._heap)
                self._running += 1
            self._pool.submit(self._run, task, args, kwargs)

    def _run(self, task, args, kwargs) -> None:
        try:
            result = task.apply(args=args, kwargs=kwargs)
            if result.failed():
                logger.error("task %s failed: %r", task.name, result.result)
        except Exception:
            logger.exception("task %s crashed", task.name)
        finally:
            connections.close_all()
            with self._cv:
                self._running -= 1
                self._cv.notify_all()

    def wait_idle(self, timeout: float = 60.0, *, horizon: float = 2.0) -> bool:
        """Wait until no task runs and none is due within ``horizon`` seconds (a command
        that queued work, such as the demo's seed, lets it finish before the process exits;
        retries scheduled later are left to the sweepers). False if ``timeout`` ran out."""

        def idle() -> bool:
            due_soon = self._heap and self._heap[0][0] <= time.monotonic() + horizon
            return self._running == 0 and not due_soon

        with self._cv:
            return self._cv.wait_for(idle, timeout=timeout)

    def start_beat(self, app) -> None:
        """Fire the app's beat schedule from a thread of this process."""
        if self._beat_thread is not None:
            return
        self._beat_thread = threading.Thread(
            target=self._beat_loop, args=(app,), name="arpilot-beat", daemon=True
        )
        self._beat_thread.start()

    def _beat_loop(self, app) -> None:
        app.loader.import_default_modules()
        entries = []
        for name, entry in (app.conf.beat_schedule or {}).items():
            entries.append([name, entry, maybe_schedule(entry["schedule"]), timezone.now()])
        while True:
            sleep_for = 60.0
            for item in entries:
                name, entry, schedule, last_run_at = item
                due, next_in = schedule.is_due(last_run_at)
                if due:
                    task = app.tasks.get(entry["task"])
                    if task is None:
                        logger.error("beat entry %s names unknown task %s", name, entry["task"])
                    else:
                        self.submit(task, entry.get("args", ()), entry.get("kwargs", {}))
                    item[3] = timezone.now()
                sleep_for = min(sleep_for, max(float(next_in), 1.0))
            time.sleep(sleep_for)


scheduler = InProcessScheduler()


def submit(task, args, kwargs, **options) -> SubmittedTask:
    return scheduler.submit(task, args, kwargs, **options)
