import uuid

from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle

# DRF's sliding log, kept in Redis as a sorted set and decided in one atomic step: drop the
# timestamps that left the window, count, and add this request's only if it is allowed.
# Returns {allowed, count in the window, oldest timestamp (text) or false}.
_SLIDING_LOG = """
local key, now, duration, limit = KEYS[1], tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
redis.call('ZREMRANGEBYSCORE', key, '-inf', now - duration)
local count = redis.call('ZCARD', key)
if count >= limit then
    local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
    return {0, count, oldest[2] or false}
end
redis.call('ZADD', key, now, ARGV[4])
redis.call('EXPIRE', key, duration)
local oldest = redis.call('ZRANGE', key, 0, 0, 'WITHSCORES')
return {1, count + 1, oldest[2] or false}
"""
_scripts: dict = {}  # Redis client id -> the registered script


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key (``ARPILOT_API_RATE``, e.g. ``1200/min``).

    Counted in the "shared" cache, which every process sees (Redis, or the database in the
    embedded default), so the budget holds however many web processes serve the key.

    On Redis the budget is DRF's sliding log (every request of the last ``duration`` seconds
    counts) as a sorted set updated by one script: one round trip, the same answers, and
    concurrent requests cannot overwrite each other's timestamps. DRF's own way (read the
    whole pickled list, write it back) cost a growing share of each request at high rates
    (bench/README.md, "API under load"). Elsewhere (the embedded default) it is DRF's.
    """

    scope = "api_key"

    @property
    def cache(self):
        return caches["shared"]

    def get_cache_key(self, request, view):
        api_key = request.auth
        if api_key is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}

    def _redis_script(self):
        """The script on the shared cache's Redis client, or None when it is not Redis."""
        cache = self.cache
        if not type(cache).__module__.startswith("django_redis"):
            return None
        client = cache.client.get_client(write=True)
        script = _scripts.get(id(client))
        if script is None:
            script = _scripts[id(client)] = client.register_script(_SLIDING_LOG)
        return script

    def allow_request(self, request, view):
        if self.rate is None:
            return True
        script = self._redis_script()
        if script is None:
            return super().allow_request(request, view)
        self.key = self.get_cache_key(request, view)
        if self.key is None:
            return True
        self.now = self.timer()
        allowed, count, oldest = script(
            keys=[self.cache.make_and_validate_key(self.key) + ":log"],
            args=[
                repr(self.now),
                self.duration,
                self.num_requests,
                f"{self.now!r}:{uuid.uuid4().hex}",
            ],
        )
        # What DRF's wait() reads: as many entries as the window holds, the oldest last.
        self.history = [float(oldest)] * count if oldest else []
        return bool(allowed)
