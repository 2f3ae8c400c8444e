import math

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from arpilot.errors import ValidationFailed

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 2**31 - 1  # far past any end; keeps page numbers JSON- and SQL-safe
BIGINT_MAX = 2**63 - 1


def positive_int_param(request, name: str, default: int, maximum: int | None = None) -> int:
    """A positive integer query parameter (ASCII digits only); above ``maximum`` it is
    ``maximum`` (a cap, never an error: any size of digits is accepted)."""
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or raw.strip("0") == "":
        raise ValidationFailed(
            f"{name} must be a positive integer.", fields={name: ["Must be a positive integer."]}
        )
    digits = raw.lstrip("0")
    if maximum is None:
        if len(digits) > len(str(BIGINT_MAX)) or int(digits) > BIGINT_MAX:
            raise ValidationFailed(
                f"{name} is too large.", fields={name: [f"Must be at most {BIGINT_MAX}."]}
            )
        return int(digits)
    if len(digits) > len(str(maximum)):
        return maximum  # huge: no int() of thousands of digits (a ValueError past 4300)
    return min(int(digits), maximum)


class PagePagination(BasePagination):
    """``page``/``per_page`` (default 25); ``per_page`` above 100 is served as 100; a page
    past the end is empty (any page number, however large: it is answered as ``MAX_PAGE``)."""

    def paginate_queryset(self, queryset, request, view=None):
        self.page = positive_int_param(request, "page", 1, MAX_PAGE)
        self.per_page = positive_int_param(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)
        self.total = queryset.count()
        start = (self.page - 1) * self.per_page
        if start >= self.total:
            return []
        return list(queryset[start : start + self.per_page])

    def get_paginated_response(self, data):
        return Response(
            {
                "data": data,
                "pagination": {
                    "page": self.page,
                    "per_page": self.per_page,
                    "total": self.total,
                    "total_pages": math.ceil(self.total / self.per_page) if self.total else 0,
                },
            }
        )

    def get_paginated_response_schema(self, schema):
        return {
            "type": "object",
            "required": ["data", "pagination"],
            "properties": {
                "data": schema,
                "pagination": {
                    "type": "object",
                    "required": ["page", "per_page", "total", "total_pages"],
                    "properties": {
                        "page": {"type": "integer", "minimum": 1},
                        "per_page": {"type": "integer", "minimum": 1, "maximum": MAX_PER_PAGE},
                        "total": {"type": "integer", "minimum": 0},
                        "total_pages": {"type": "integer", "minimum": 0},
                    },
                },
            },
        }

    def get_schema_operation_parameters(self, view):
        return [
            {
                "name": "page",
                "in": "query",
                "required": False,
                "description": "Page number (1-based); a page past the end is empty.",
                "schema": {"type": "integer", "minimum": 1, "default": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "description": "Items per page; values above 100 are served as 100.",
                "schema": {"type": "integer", "minimum": 1, "default": DEFAULT_PER_PAGE},
            },
        ]
