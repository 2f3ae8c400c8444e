"""Run a function in several threads at once, each with its own database connection."""

import threading

from django.db import connections


def run_threads(target, count: int, *, timeout: float = 60.0) -> list[Exception]:
    """Call ``target()`` in ``count`` threads, wait for all; return what they raised."""
    errors: list[Exception] = []

    def run():
        try:
            target()
        except Exception as exc:  # reported to the caller
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout)
    return errors
