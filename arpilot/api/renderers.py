"""The API's JSON renderer: DRF's bytes, written by orjson (several times faster).

``rest_framework.renderers.JSONRenderer`` (json.dumps with DRF's encoder, compact, UTF-8,
NaN refused, U+2028/U+2029 escaped) is the reference; every response renders to the same
bytes, or is handed to it:

- datetimes, dates and times go to DRF's encoder (orjson's own format differs: DRF cuts
  microseconds to milliseconds and writes ``Z``), as do decimals (``float``: money is a JSON
  number), UUIDs, lazy strings and the rest;
- a float orjson writes differently (below 1e-4 or from 1e16: ``1e-05`` / ``0.00001``,
  ``1e+16`` / ``1e16``) is seen in the output and the response is rendered by DRF instead;
  money (three places at most, below 1e15) never is;
- whatever orjson refuses (keys that are not strings, integers past 64 bits, a non-finite
  decimal) and an ``indent`` asked for are rendered by DRF, errors included.

The one difference left: a non-finite *float* (never in this API's data) is ``null`` where
DRF would fail the request.
"""

import decimal
import re

import orjson
from rest_framework.renderers import JSONRenderer as DRFJSONRenderer
from rest_framework.utils.encoders import JSONEncoder

_encoder = JSONEncoder()
_OPTIONS = orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS
# A number orjson writes unlike json.dumps: an exponent, or a fraction below 1e-4.
_DIFFERENT_FLOAT = re.compile(rb"[:,\[]-?(?:\d+(?:\.\d+)?e|0\.0000)")
_LINE_SEPARATORS = (b"\xe2\x80\xa8", b"\xe2\x80\xa9")  # U+2028, U+2029 in UTF-8


def _default(value):
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            raise TypeError("a non-finite decimal: DRF's renderer refuses it")
        return float(value)  # what DRF's encoder writes: 1250.5 for Decimal("1250.50")
    return _encoder.default(value)


class JSONRenderer(DRFJSONRenderer):
    """``rest_framework.renderers.JSONRenderer``'s output through orjson (module docstring)."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if data is None:
            return b""
        if (
            not self.compact
            or self.ensure_ascii
            or not self.strict
            or self.get_indent(accepted_media_type, renderer_context or {}) is not None
        ):
            return super().render(data, accepted_media_type, renderer_context)
        try:
            rendered = orjson.dumps(data, default=_default, option=_OPTIONS)
        except orjson.JSONEncodeError:
            return super().render(data, accepted_media_type, renderer_context)
        if _DIFFERENT_FLOAT.search(rendered):
            return super().render(data, accepted_media_type, renderer_context)
        if _LINE_SEPARATORS[0] in rendered or _LINE_SEPARATORS[1] in rendered:
            rendered = rendered.replace(_LINE_SEPARATORS[0], b"\\u2028").replace(
                _LINE_SEPARATORS[1], b"\\u2029"
            )
        return rendered
