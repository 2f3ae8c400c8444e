"""gunicorn.conf.py: a worker process per core with eight threads, and a worker imports every
view and freezes what it loaded before serving."""

import gc
import importlib.util
import sys
from pathlib import Path

import pytest

CONF = Path(__file__).resolve().parents[2] / "gunicorn.conf.py"


@pytest.fixture
def conf():
    spec = importlib.util.spec_from_file_location("gunicorn_conf", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    yield module
    gc.unfreeze()  # the test process goes on collecting as before


def test_a_worker_loads_every_view_then_freezes_it(conf):
    gc.unfreeze()

    conf.post_worker_init(worker=None)

    assert "receivables.api.views" in sys.modules
    assert "payments.api.views" in sys.modules
    assert gc.get_freeze_count() > 10_000  # the application's objects, out of collection
    import babel.core

    assert babel.core._global_data is not None  # unpickled before the first invoice, not in it


def _load(monkeypatch, **env):
    for name in ("WEB_CONCURRENCY", "GUNICORN_THREADS"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location("gunicorn_conf_env", CONF)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_a_worker_per_core_with_eight_threads_unless_told(monkeypatch):
    import os

    default = _load(monkeypatch)
    assert (default.workers, default.threads) == (len(os.sched_getaffinity(0)), 8)

    told = _load(monkeypatch, WEB_CONCURRENCY="6", GUNICORN_THREADS="3")
    assert (told.workers, told.threads) == (6, 3)
