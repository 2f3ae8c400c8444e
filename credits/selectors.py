"""Credits' reads: deductions (with what they render with), reasons, and the aging."""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, Q, Sum

from arpilot.currencies import currency_places
from arpilot.money import ZERO
from credits.models import Deduction, DeductionReason
from receivables.views import base_currency, booked_rate, in_base, round_base

# Days since a deduction was opened (the organization's dates): label, first day, last day.
AGING_BUCKETS = (
    ("days_0_30", 0, 30),
    ("days_31_60", 31, 60),
    ("days_61_90", 61, 90),
    ("days_over_90", 91, None),
)


def deduction_list(*, organization):
    return Deduction.objects.for_org(organization).select_related("reason", "invoice", "customer")


def reason_list(*, organization):
    return DeductionReason.objects.for_org(organization).select_related("account")


@dataclass
class AgingRow:
    """One reason's open deductions by age (``reason_code`` None: the total row), in the
    organization's base currency (each at its invoice's booked rate); ``currencies``: the
    same in each currency the deductions are in; ``unrated_count``: deductions whose invoice
    has no rate, in ``count`` and their currency's row but not in the base amounts."""

    reason_code: str | None
    reason: str
    count: int
    days_0_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    days_over_90: Decimal
    total: Decimal
    currency: str = ""
    unrated_count: int = 0
    currencies: list[dict] = field(default_factory=list)

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _start_of(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def _bucket_conditions(today: date, tz) -> dict[str, Q]:
    """Each bucket's deductions: opened on or before today - first, after today - last - 1."""
    conditions = {}
    for name, first, last in AGING_BUCKETS:
        condition = Q(created_at__lt=_start_of(today - timedelta(days=first - 1), tz))
        if last is not None:
            condition &= Q(created_at__gte=_start_of(today - timedelta(days=last), tz))
        conditions[name] = condition
    return conditions


def _aging_rows(queryset, organization, today: date, tz, places: int) -> list[dict]:
    """Open deductions per reason and currency: each bucket's amount in the currency and in
    base (those with a rate), one query, a row per reason and currency."""
    rated = Q(base_rate__isnull=False)
    sums = {}
    for name, condition in _bucket_conditions(today, tz).items():
        sums[name] = Sum("amount", filter=condition, default=ZERO)
        sums[f"{name}_base"] = Sum(
            in_base("amount", "base_rate", places), filter=condition & rated, default=ZERO
        )
    return list(
        queryset.filter(status=Deduction.Status.OPEN)
        .order_by()
        .annotate(base_rate=booked_rate(organization, prefix="invoice__"))
        .values("reason__code", "reason__name", "invoice__currency")
        .annotate(
            count=Count("id"),
            total=Sum("amount", default=ZERO),
            total_base=Sum(in_base("amount", "base_rate", places), filter=rated, default=ZERO),
            unrated_count=Count("id", filter=~rated),
            **sums,
        )
        .order_by("reason__name", "reason__code", "invoice__currency")
    )


def _currency_part(row: dict, base: str, places: int) -> dict:
    own = currency_places(row["invoice__currency"])
    return {
        "currency": row["invoice__currency"],
        "count": row["count"],
        **{name: round_base(row[name], own) for name, _, _ in AGING_BUCKETS},
        "total": round_base(row["total"], own),
        "total_base": round_base(row["total_base"], places),
        "unrated_count": row["unrated_count"],
    }


def _reason_row(code, name, parts: list[dict], base: str, places: int) -> AgingRow:
    """A reason's (or the total's) row from its rows per currency: base amounts summed."""

    def base_sum(key: str) -> Decimal:
        return round_base(sum((part[key] or ZERO for part in parts), ZERO), places)

    return AgingRow(
        reason_code=code,
        reason=name,
        count=sum(part["count"] for part in parts),
        total=base_sum("total_base"),
        currency=base,
        unrated_count=sum(part["unrated_count"] for part in parts),
        **{bucket: base_sum(f"{bucket}_base") for bucket, _, _ in AGING_BUCKETS},
    )


def _with_currencies(row: AgingRow, parts: list[dict], base: str, places: int) -> AgingRow:
    merged: dict[str, dict] = {}
    for part in parts:
        item = merged.setdefault(
            part["invoice__currency"],
            {"invoice__currency": part["invoice__currency"], "count": 0, "unrated_count": 0}
            | {key: ZERO for key in ("total", "total_base")}
            | {name: ZERO for name, _, _ in AGING_BUCKETS},
        )
        for key in ("count", "unrated_count", "total", "total_base"):
            item[key] += part[key] or 0
        for name, _, _ in AGING_BUCKETS:
            item[name] += part[name] or ZERO
    row.currencies = sorted(
        (_currency_part(item, base, places) for item in merged.values()),
        key=lambda item: (item["currency"] != base, item["currency"]),
    )
    return row


def deduction_aging(*, organization, today: date, tz, queryset=None) -> list[AgingRow]:
    """Open deductions' amounts by days since opened, per reason and a total row last, in the
    organization's base currency (each at its invoice's booked rate, rounded half up to the
    base's places) with the same per currency (one query, whatever the number of reasons,
    currencies or deductions). ``queryset``: the deductions to age (filtered by the caller),
    default all."""
    queryset = deduction_list(organization=organization) if queryset is None else queryset
    base = base_currency(organization)
    places = currency_places(base)
    rows = _aging_rows(queryset, organization, today, tz, places)
    by_reason: dict[tuple, list[dict]] = {}
    for row in rows:
        by_reason.setdefault((row["reason__code"], row["reason__name"]), []).append(row)
    result = [
        _with_currencies(_reason_row(code, name, parts, base, places), parts, base, places)
        for (code, name), parts in by_reason.items()
    ]
    total = _with_currencies(_reason_row(None, "Total", rows, base, places), rows, base, places)
    return [*result, total]
