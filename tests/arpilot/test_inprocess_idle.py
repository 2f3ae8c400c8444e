"""The in-process scheduler's wait for idle (a command lets its queued work finish), and
acting as a user outside a request."""

import threading
import time

from arpilot.actors import acting_as, current_actor
from arpilot.inprocess import InProcessScheduler


class _Task:
    name = "tests.sleepy"

    def __init__(self, seconds: float, done: list):
        self.seconds, self.done = seconds, done

    def apply(self, args, kwargs):
        time.sleep(self.seconds)
        self.done.append(args)

        class _Result:
            def failed(self):
                return False

        return _Result()


def test_wait_idle_returns_once_due_tasks_have_run():
    scheduler = InProcessScheduler(workers=2)
    done: list = []
    for index in range(5):
        scheduler.submit(_Task(0.05, done), (index,), {})
    assert scheduler.wait_idle(timeout=10)
    assert sorted(done) == [(0,), (1,), (2,), (3,), (4,)]


def test_wait_idle_does_not_wait_for_retries_scheduled_later():
    scheduler = InProcessScheduler(workers=1)
    done: list = []
    scheduler.submit(_Task(0, done), ("now",), {})
    scheduler.submit(_Task(0, done), ("later",), {}, countdown=600)
    started = time.monotonic()
    assert scheduler.wait_idle(timeout=10)
    assert time.monotonic() - started < 5
    assert done == [("now",)]
    assert scheduler.pending() == 1


def test_wait_idle_gives_up_after_its_timeout():
    scheduler = InProcessScheduler(workers=1)
    release = threading.Event()

    class _Stuck(_Task):
        def apply(self, args, kwargs):
            release.wait(10)
            return super().apply(args, kwargs)

    scheduler.submit(_Stuck(0, []), (), {})
    assert scheduler.wait_idle(timeout=0.3) is False
    release.set()
    assert scheduler.wait_idle(timeout=10)


def test_acting_as_names_the_user_outside_a_request(django_user_model, db):
    user = django_user_model.objects.create_user(username="carol", password="x" * 12)
    assert current_actor() is None
    with acting_as(user):
        actor = current_actor()
        assert (actor.key, actor.name) == (f"user:{user.pk}", "carol")
    assert current_actor() is None
    with acting_as(None):
        assert current_actor() is None
