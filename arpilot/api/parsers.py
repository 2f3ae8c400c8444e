import codecs
import json
from decimal import Decimal

from django.conf import settings
from rest_framework.exceptions import ParseError
from rest_framework.parsers import JSONParser

# Far deeper than any request body of the API (three or four levels); deep enough input is
# an attack on the recursive code that would walk it (parser, serializers, fingerprint).
MAX_JSON_DEPTH = 64
TOO_DEEP = f"JSON nested too deeply (more than {MAX_JSON_DEPTH} levels)"


def _reject_constant(name: str):
    raise ValueError(f"{name} is not valid JSON")


def too_deep(value, limit: int = MAX_JSON_DEPTH) -> bool:
    """Whether lists/dicts in ``value`` nest deeper than ``limit`` (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False


class DecimalJSONParser(JSONParser):
    """JSON whose numbers with a fraction become ``Decimal``, never ``float``.

    Nesting deeper than ``MAX_JSON_DEPTH`` is a parse error (a 400), never a RecursionError.
    """

    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        encoding = parser_context.get("encoding", settings.DEFAULT_CHARSET)
        try:
            decoded = codecs.getreader(encoding)(stream)
            data = json.load(decoded, parse_float=Decimal, parse_constant=_reject_constant)
        except RecursionError:
            raise ParseError(f"JSON parse error - {TOO_DEEP}") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise ParseError(f"JSON parse error - {exc}") from exc
        if too_deep(data):
            raise ParseError(f"JSON parse error - {TOO_DEEP}")
        return data
