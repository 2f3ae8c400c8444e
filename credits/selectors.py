"""Credits' reads: deductions (with what they render with), reasons, and the aging."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, DecimalField, Q, Sum, Value
from django.db.models.functions import Coalesce

from arpilot.money import ZERO
from credits.models import Deduction, DeductionReason

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
    """One reason's open deductions by age (``reason_code`` None: the total row)."""

    reason_code: str | None
    reason: str
    count: int
    days_0_30: Decimal
    days_31_60: Decimal
    days_61_90: Decimal
    days_over_90: Decimal
    total: Decimal

    def as_dict(self) -> dict:
        return {name: getattr(self, name) for name in self.__dataclass_fields__}


def _start_of(day: date, tz) -> datetime:
    return datetime.combine(day, time.min, tzinfo=tz)


def deduction_aging(*, organization, today: date, tz, queryset=None) -> list[AgingRow]:
    """Open deductions' amounts by days since opened, per reason and a total row last (one
    query). ``queryset``: the deductions to age (filtered by the caller), default all."""
    queryset = deduction_list(organization=organization) if queryset is None else queryset
    money = DecimalField(max_digits=14, decimal_places=2)
    sums = {}
    for name, first, last in AGING_BUCKETS:
        # opened on or before today - first, and after today - last - 1
        condition = Q(created_at__lt=_start_of(today - timedelta(days=first - 1), tz))
        if last is not None:
            condition &= Q(created_at__gte=_start_of(today - timedelta(days=last), tz))
        sums[name] = Coalesce(Sum("amount", filter=condition), Value(ZERO), output_field=money)
    rows = (
        queryset.filter(status=Deduction.Status.OPEN)
        .order_by()
        .values("reason__code", "reason__name")
        .annotate(count=Count("id"), total=Sum("amount"), **sums)
        .order_by("reason__name", "reason__code")
    )
    result = [
        AgingRow(
            reason_code=row["reason__code"],
            reason=row["reason__name"],
            count=row["count"],
            total=row["total"],
            **{name: row[name] for name, _, _ in AGING_BUCKETS},
        )
        for row in rows
    ]
    total = AgingRow(
        reason_code=None,
        reason="Total",
        count=sum(row.count for row in result),
        total=sum((row.total for row in result), ZERO),
        **{name: sum((getattr(row, name) for row in result), ZERO) for name, _, _ in AGING_BUCKETS},
    )
    return [*result, total]
