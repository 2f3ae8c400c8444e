from rest_framework.throttling import SimpleRateThrottle


class ApiKeyRateThrottle(SimpleRateThrottle):
    """A request budget per API key (``ARPILOT_API_RATE``, e.g. ``1200/min``)."""

    scope = "api_key"

    def get_cache_key(self, request, view):
        api_key = request.auth
        if api_key is None:
            return self.cache_format % {"scope": self.scope, "ident": self.get_ident(request)}
        return self.cache_format % {"scope": self.scope, "ident": api_key.pk}
