from django.core.cache import caches
from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key (``ARPILOT_API_RATE``, e.g. ``1200/min``).

    Counted in the "shared" cache, which every process sees (Redis, or the database in the
    embedded default), so the budget holds however many web processes serve the key.
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
