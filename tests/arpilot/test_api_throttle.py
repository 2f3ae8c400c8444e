"""The per-key budget on Redis (arpilot/api/throttling.py): DRF's sliding log, answered the
same way, in one atomic step (no lost counts between concurrent requests).

Run with REDIS_URL (the PostgreSQL run); without it the shared cache is not Redis and the
throttle is DRF's own, which the last test checks."""

import threading
from types import SimpleNamespace

import pytest
from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

from arpilot.api.throttling import ApiKeyRateThrottle

on_redis = pytest.mark.skipif(
    "RedisCache" not in type(caches["shared"]).__name__, reason="needs REDIS_URL (Redis cache)"
)


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def _throttle(rate: str, clock=None) -> ApiKeyRateThrottle:
    throttle = ApiKeyRateThrottle.__new__(ApiKeyRateThrottle)
    throttle.rate = rate
    throttle.num_requests, throttle.duration = throttle.parse_rate(rate)
    if clock is not None:
        throttle.timer = clock
    return throttle


def _request(pk: int):
    return SimpleNamespace(auth=SimpleNamespace(pk=pk), META={})


def _drf(rate: str, clock) -> SimpleRateThrottle:
    """DRF's own sliding log on a local memory cache, as the reference."""
    from django.core.cache.backends.locmem import LocMemCache

    class Reference(SimpleRateThrottle):
        cache = LocMemCache("reference", {})
        timer = clock

        def get_cache_key(self, request, view):
            return f"ref_{request.auth.pk}"

    Reference.rate = rate
    return Reference


@on_redis
def test_the_same_answers_and_waits_as_drf_s_sliding_log():
    clock = Clock()
    reference = _drf("3/min", clock)
    steps = [0, 5, 10, 20, 30, 59.5, 60.0, 60.5, 64, 66, 71, 119, 125, 300, 300, 300, 300]
    for step in steps:
        clock.now = 1_000_000.0 + step
        ours, theirs = _throttle("3/min", clock), reference()
        allowed = ours.allow_request(_request(7001), None)
        assert allowed == theirs.allow_request(_request(7001), None), step
        if not allowed:
            assert ours.wait() == pytest.approx(theirs.wait()), step


@on_redis
def test_the_budget_is_per_key():
    clock = Clock()
    assert _throttle("1/min", clock).allow_request(_request(7101), None)
    assert not _throttle("1/min", clock).allow_request(_request(7101), None)
    assert _throttle("1/min", clock).allow_request(_request(7102), None)


@on_redis
def test_concurrent_requests_are_all_counted():
    """DRF's read-modify-write lost timestamps between concurrent requests (more requests got
    through than the budget); the script counts every one."""
    results = []
    lock = threading.Lock()
    barrier = threading.Barrier(12)

    def hit():
        barrier.wait()
        for _ in range(5):
            allowed = _throttle("20/min").allow_request(_request(7201), None)
            with lock:
                results.append(allowed)

    threads = [threading.Thread(target=hit) for _ in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert len(results) == 60
    assert results.count(True) == 20


@on_redis
def test_429_with_retry_after_through_the_api(api):
    original = ApiKeyRateThrottle.THROTTLE_RATES
    ApiKeyRateThrottle.THROTTLE_RATES = {"api_key": "2/min"}
    try:
        codes = [api.get("/api/v1/customers").status_code for _ in range(2)]
        response = api.get("/api/v1/customers")
    finally:
        ApiKeyRateThrottle.THROTTLE_RATES = original
    assert codes == [200, 200]
    assert response.status_code == 429
    assert 58 <= int(response["Retry-After"]) <= 60


def test_without_redis_it_is_drf_s(settings):
    settings.CACHES = {
        **settings.CACHES,
        "shared": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    clock = Clock()
    throttle = _throttle("1/min", clock)
    assert throttle._redis_script() is None
    assert throttle.allow_request(_request(7301), None)
    assert throttle.history == [clock.now]  # DRF's list, in the cache
    assert not _throttle("1/min", clock).allow_request(_request(7301), None)
