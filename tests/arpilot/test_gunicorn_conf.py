"""gunicorn.conf.py: a worker imports every view and freezes what it loaded before serving."""

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
