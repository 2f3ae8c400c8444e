from decimal import Decimal

import orjson
from rest_framework.renderers import JSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_fallback = JSONEncoder()


def _default(value):
    if isinstance(value, Decimal):
        return float(value)  # the number a decimal with two places prints as, e.g. 1250.5
    return _fallback.default(value)


class OrjsonRenderer(JSONRenderer):
    """The same JSON as DRF's renderer (compact, decimals as numbers), written by orjson."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        return orjson.dumps(data, default=_default)
