import math

from rest_framework.pagination import BasePagination
from rest_framework.response import Response

from arpilot.errors import ValidationFailed

DEFAULT_PER_PAGE = 25
MAX_PER_PAGE = 100
MAX_PAGE = 2**31 - 1  # far past any end; keeps page numbers JSON- and SQL-safe


def positive_int_param(request, name: str, default: int, maximum: int | None = None) -> int:
    raw = request.query_params.get(name)
    if raw is None or raw == "":
        return default
    if not raw.isascii() or not raw.isdigit() or int(raw) < 1:
        raise ValidationFailed(
            f"{name} must be a positive integer.", fields={name: ["Must be a positive integer."]}
        )
    if maximum is not None and int(raw) > maximum:
        raise ValidationFailed(
            f"{name} must be at most {maximum}.", fields={name: [f"Must be at most {maximum}."]}
        )
    return int(raw)


class PagePagination(BasePagination):
    """``page``/``per_page`` (default 25, capped at 100); a page past the end is empty."""

    def paginate_queryset(self, queryset, request, view=None):
        self.page = positive_int_param(request, "page", 1, MAX_PAGE)
        self.per_page = min(
            positive_int_param(request, "per_page", DEFAULT_PER_PAGE, MAX_PAGE), MAX_PER_PAGE
        )
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
                "schema": {"type": "integer", "minimum": 1, "maximum": MAX_PAGE, "default": 1},
            },
            {
                "name": "per_page",
                "in": "query",
                "required": False,
                "description": "Items per page; values above 100 are served as 100.",
                "schema": {
                    "type": "integer",
                    "minimum": 1,
                    "maximum": MAX_PAGE,
                    "default": DEFAULT_PER_PAGE,
                },
            },
        ]
