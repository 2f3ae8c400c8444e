from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.response import Response

from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from arpilot.timezones import zone
from arpilot.workspace import organization_today
from credits import selectors, services
from credits.api import serializers as s
from credits.filters import DeductionFilterSet
from credits.selectors import AGING_BUCKETS

AGING_HELP = (
    "Open deductions' amounts by days since opened (organization time zone): "
    + ", ".join(
        f"`{name}` ({first} to {last} days)" if last else f"`{name}` (over {first - 1} days)"
        for name, first, last in AGING_BUCKETS
    )
    + "; one row per reason with open deductions (by name), then a total row "
    "(`reason_code` null). Amounts are in the organization's base currency (`currency`): each "
    "deduction at its invoice's booked rate (`exchange_rate`, else the rate table's latest on "
    "or before the issue date), rounded half up to the base's places; `currencies` breaks "
    "each row down per currency (amounts in that currency)."
)

AGING_FILTERS = ("reason_code", "customer_id")


class AgingCurrencySerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="The invoices' currency (ISO 4217)")
    count = serializers.IntegerField()
    days_0_30 = s._money(read_only=True, help_text="In `currency`")
    days_31_60 = s._money(read_only=True, help_text="In `currency`")
    days_61_90 = s._money(read_only=True, help_text="In `currency`")
    days_over_90 = s._money(read_only=True, help_text="In `currency`")
    total = s._money(read_only=True, help_text="In `currency`")
    total_base = s._money(
        read_only=True,
        help_text="`total` in the base currency at the invoices' booked rates (without those "
        "that have no rate)",
    )
    unrated_count = serializers.IntegerField(
        help_text="Deductions whose invoice has no exchange rate (not in `total_base`)"
    )


class CurrencyAgingRowSerializer(s.AgingRowSerializer):
    currency = serializers.CharField(
        help_text="The organization's base currency: the row's amounts are in it"
    )
    unrated_count = serializers.IntegerField(
        help_text="Deductions on an invoice in another currency with no exchange rate (booked "
        "or in the rate table on or before its issue date): in `count` and under their "
        "currency in `currencies`, left out of the base amounts"
    )
    currencies = AgingCurrencySerializer(
        many=True, help_text="The same figures per currency of the deductions' invoices"
    )


class DeductionViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Deductions: short payments with a reason, out of dunning until resolved."""

    schema_docs = {
        "list": (
            "List deductions",
            "Newest first. A deduction is opened by a payment's short pay "
            "(`PATCH /api/v1/payments/{id}` with `deduction_reason_code`); while open, its "
            "invoice is out of dunning. The aging by reason is `GET /api/v1/deductions/aging`.",
        ),
        "retrieve": ("Get a deduction", "404 for a deduction of another organization."),
        "partial_update": (
            "Change a deduction",
            "`note`, and `reason_code` (an active code of the organization's list, 400 naming "
            "it otherwise), while the deduction is open (a resolved one is a 409).",
        ),
    }
    serializer_class = s.DeductionSerializer
    input_serializers = {"partial_update": s.DeductionUpdateInput}
    filterset_class = DeductionFilterSet
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.deduction_list(organization=organization)

    def partial_update(self, request, pk=None):
        data = self.get_input(partial=True)
        deduction = services.deduction_update(
            organization=self.organization, deduction_id=self.get_url_pk(), **data
        )
        return self.respond(self.reload(deduction))

    @extend_schema(
        summary="Resolve a deduction",
        description="`write_off`: the amount comes off the invoice to the reason's account "
        "(Dr reason account / Cr receivable). `credit_note`: Dr 4900 Sales credits / Cr "
        "receivable. `rebill`: credited like a credit note and billed again as a new invoice "
        "(one line on the original's revenue account, due after the original's terms; "
        "`rebill_invoice_id`). These record a pending accounting change (`write_off` or "
        "`credit_note`) and show `resolution_amount` (the deduction, or what the invoice "
        "still owes if less), `journal_entry_id`, `accounting_change_id`. `collected`: "
        "nothing moves (the customer paid, or will: the invoice returns to dunning if still "
        "owed). 409 when already resolved, or for a money-moving resolution when the "
        "invoice owes nothing. 404 for another organization's deduction.",
        request=s.DeductionResolveInput,
        responses={200: s.DeductionSerializer},
    )
    @action(detail=True, methods=["post"])
    def resolve(self, request, pk=None):
        data = self.get_input(s.DeductionResolveInput)
        deduction = services.deduction_resolve(
            organization=self.organization, deduction_id=self.get_url_pk(), **data
        )
        return self.respond(self.reload(deduction))

    @extend_schema(
        summary="Deductions aging by reason",
        description=AGING_HELP + " Filters `reason_code` and `customer_id` apply; `status` "
        "does not (only open deductions age). Not paginated.",
        parameters=[
            OpenApiParameter("reason_code", str, description="The reason's code"),
            OpenApiParameter("customer_id", str, description="The customer (a UUID)"),
        ],
        responses={200: CurrencyAgingRowSerializer(many=True)},
    )
    @action(detail=False, methods=["get"], filter_backends=[], pagination_class=None)
    def aging(self, request):
        params = {k: v for k, v in request.query_params.items() if k in AGING_FILTERS}
        filterset = DeductionFilterSet(params, queryset=self.get_queryset(), request=request)
        if not filterset.is_valid():
            raise ValidationError(filterset.errors)
        rows = selectors.deduction_aging(
            organization=self.organization,
            today=organization_today(self.organization),
            tz=zone(self.organization.timezone),
            queryset=filterset.qs,
        )
        data = CurrencyAgingRowSerializer(rows, many=True).data
        return Response({"data": data}, status=status.HTTP_200_OK)


class DeductionReasonViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """The organization's deduction reason codes, each mapped to a GL account."""

    schema_docs = {
        "list": (
            "List deduction reasons",
            "By name. Every organization starts with pricing, damaged_goods, promotion, "
            "freight, early_payment_discount and unknown, each mapped to an account (4910, "
            "6910, 4920, 6920, 4930, 6930, created once).",
        ),
        "retrieve": ("Get a deduction reason", ""),
        "create": (
            "Add a deduction reason",
            "`code` unique in the organization (a taken one is a 409); `account_number` one "
            "of its income or expense accounts (400 naming it otherwise).",
        ),
        "partial_update": (
            "Change a deduction reason",
            "`code`, `name`, `account_number`, `is_active` (an inactive reason opens no new "
            "deductions). Deductions keep their reason.",
        ),
    }
    serializer_class = s.ReasonSerializer
    input_serializers = {"create": s.ReasonCreateInput, "partial_update": s.ReasonUpdateInput}
    filter_backends = []
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.reason_list(organization=organization)

    def list(self, request, *args, **kwargs):
        services.reasons_ensure(self.organization)
        return super().list(request, *args, **kwargs)

    @extend_schema(responses={201: s.ReasonSerializer})
    def create(self, request):
        reason = services.reason_create(organization=self.organization, **self.get_input())
        return self.respond(self.reload(reason), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        data = self.get_input(partial=True)
        reason = services.reason_update(
            organization=self.organization, reason_id=self.get_url_pk(), **data
        )
        return self.respond(self.reload(reason))
