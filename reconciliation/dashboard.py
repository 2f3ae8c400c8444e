"""The dashboard's accounting-change figures in the base currency.

A change's ``amount`` is in the currency of the money it records, never converted:

* a payment's applied or unapplied, and a refund of customer credit: the payment's currency
  (the organization's when blank), valued in base at the organization's rate of that
  currency on the payment date (the rate the ledger valued the money at);
* an invoice's changes, offline payments, write-offs and credit notes against an invoice:
  the invoice's currency at its booked rate (``receivables.views.booked_rate``);
* a credit note against no invoice: the note's currency (``payload.currency``) at the rate
  the note was booked at (found by its number, ``payload.credit_note_number``);
* anything else: ``payload.currency`` (the organization's by default), 1 in the base.

So "awaiting approval, by kind" adds each pending change in base (its amount at its rate,
rounded to the base's places, like the aging panel) and lists the amounts per currency; a
change with no rate is counted under its currency and left out of the base total. One
query (grouped by kind and currency), which also counts the approved and failed changes.
"""

from decimal import Decimal

from django.db.models import (
    Case,
    CharField,
    Count,
    F,
    OuterRef,
    Q,
    Subquery,
    Sum,
    Value,
    When,
)
from django.db.models.fields.json import KT
from django.db.models.functions import Coalesce, NullIf, Upper

from arpilot.currencies import currency_places
from arpilot.money import ZERO
from credits.models import CreditNote
from receivables.models import ExchangeRate
from receivables.views import RATE_FIELD, base_currency, booked_rate, in_base, round_base
from reconciliation.models import AccountingChange

ChangeType = AccountingChange.ChangeType
Status = AccountingChange.Status

# Changes whose amount is the payment's money (in its currency).
PAYMENT_MONEY = (ChangeType.PAYMENT_APPLIED, ChangeType.PAYMENT_UNAPPLIED, ChangeType.REFUND)


def _currency(base: str):
    """The currency of a change's amount (see the module), as an SQL expression."""
    payment_currency = Coalesce(NullIf(Upper("payment__currency"), Value("")), Value(base))
    return Coalesce(
        Case(
            When(change_type__in=PAYMENT_MONEY, payment__isnull=False, then=payment_currency),
            When(invoice__isnull=False, then=F("invoice__currency")),
            default=NullIf(Upper(KT("payload__currency")), Value("")),
            output_field=CharField(),
        ),
        Value(base),
        output_field=CharField(),
    )


def _rate(organization, base: str):
    """The base-currency rate of a change's amount (null: none known), as an SQL
    expression over the ``amount_currency`` annotation."""
    payment_rate = (
        ExchangeRate.objects.for_org(organization)
        .filter(currency=OuterRef("amount_currency"), date__lte=OuterRef("payment__payment_date"))
        .order_by("-date")
        .values("rate")[:1]
    )
    note_rate = (
        CreditNote.objects.for_org(organization)
        .filter(number=OuterRef("credit_note_number"))
        .values("exchange_rate")[:1]
    )
    return Case(
        When(amount_currency=base, then=Value(Decimal(1))),
        When(change_type__in=PAYMENT_MONEY, payment__isnull=False, then=Subquery(payment_rate)),
        When(invoice__isnull=False, then=booked_rate(organization, "invoice__")),
        When(change_type=ChangeType.CREDIT_NOTE, then=Subquery(note_rate)),
        default=Value(None),
        output_field=RATE_FIELD,
    )


def change_rows(*, organization) -> list[dict]:
    """Per change type and currency of the amount: the pending count, total (in the
    currency), total in base (of those with a rate) and count without a rate; and the
    approved and failed counts (of the type, under its first currency row). One query."""
    base = base_currency(organization)
    places = currency_places(base)
    pending = Q(status=Status.PENDING)
    rated = Q(base_rate__isnull=False)
    return list(
        AccountingChange.objects.for_org(organization)
        .order_by()
        .annotate(credit_note_number=KT("payload__credit_note_number"))
        # Only pending changes need their currency and rate: the others group under "".
        .annotate(
            amount_currency=Case(
                When(pending, then=_currency(base)), default=Value(""), output_field=CharField()
            )
        )
        .annotate(
            base_rate=Case(
                When(pending, then=_rate(organization, base)),
                default=Value(None),
                output_field=RATE_FIELD,
            )
        )
        .values("change_type", "amount_currency")
        .annotate(
            pending_count=Count("id", filter=pending),
            pending_total=Sum("amount", filter=pending, default=ZERO),
            pending_base=Sum(
                in_base("amount", "base_rate", places), filter=pending & rated, default=ZERO
            ),
            unrated_count=Count("id", filter=pending & ~rated),
            approved_count=Count("id", filter=Q(status=Status.APPROVED)),
            failed_count=Count("id", filter=Q(status=Status.FAILED)),
        )
        .order_by("change_type", "amount_currency")
    )


def change_summary_rows(*, organization) -> list[dict]:
    """``change_rows`` folded per change type, as ``change_counts_by_type`` has them, with
    ``pending_total`` in base and ``currencies``: the per-currency breakdown of the pending
    amount (base first), each ``{currency, is_base, count, total, total_base,
    unrated_count}``; ``unrated_count`` the pending changes left out of the base total."""
    base = base_currency(organization)
    places = currency_places(base)
    by_type: dict[str, dict] = {}
    for row in change_rows(organization=organization):
        folded = by_type.setdefault(
            row["change_type"],
            {
                "change_type": row["change_type"],
                "pending_count": 0,
                "pending_total": ZERO,
                "approved_count": 0,
                "failed_count": 0,
                "unrated_count": 0,
                "currencies": [],
            },
        )
        folded["approved_count"] += row["approved_count"]
        folded["failed_count"] += row["failed_count"]
        if not row["pending_count"]:
            continue
        folded["pending_count"] += row["pending_count"]
        folded["pending_total"] += round_base(row["pending_base"], places)
        folded["unrated_count"] += row["unrated_count"]
        currency = row["amount_currency"]
        folded["currencies"].append(
            {
                "currency": currency,
                "is_base": currency == base,
                "count": row["pending_count"],
                "total": round_base(row["pending_total"], currency_places(currency)),
                "total_base": round_base(row["pending_base"], places),
                "unrated_count": row["unrated_count"],
            }
        )
    for folded in by_type.values():
        folded["pending_total"] = round_base(folded["pending_total"], places)
        folded["currencies"].sort(key=lambda row: (not row["is_base"], row["currency"]))
        folded["foreign"] = any(not row["is_base"] for row in folded["currencies"])
    return [by_type[key] for key in sorted(by_type)]
