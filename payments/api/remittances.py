"""Remittance advice over the API: ``POST /api/v1/remittances`` (a file or text) and
``GET /api/v1/remittances/{id}``."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.response import Response

from arpilot.api.fields import money_out
from arpilot.api.views import OrgScopedViewSet
from payments.remittance_models import Remittance, RemittanceLine
from payments.services import remittances

MAX_BYTES = 2 * 1024 * 1024


class RemittanceInput(serializers.Serializer):
    file = serializers.FileField(
        required=False, help_text="The advice: CSV, CAMT.053 XML or text (multipart; ≤ 2 MB)"
    )
    text = serializers.CharField(
        required=False,
        max_length=200_000,
        trim_whitespace=False,
        help_text="The advice as text (an email pasted), instead of `file`",
    )
    payment_id = serializers.UUIDField(
        required=False,
        allow_null=True,
        help_text="The payment it is for; without it, the one unmatched payment of the "
        "advice's total is linked (the payer or reference breaking a tie)",
    )
    payer_name = serializers.CharField(
        required=False, allow_blank=True, max_length=255, default="", help_text="Who sent it"
    )
    payment_reference = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, default="", help_text="As paid"
    )

    def validate(self, attrs):
        given = [name for name in ("file", "text") if attrs.get(name) not in (None, "")]
        if len(given) != 1:
            raise serializers.ValidationError(
                {"file": ["Send the advice as `file` or as `text` (one of the two)."]}
            )
        upload = attrs.get("file")
        if upload is not None and upload.size > MAX_BYTES:
            raise serializers.ValidationError({"file": ["The file is larger than 2 MB."]})
        return attrs


class RemittanceLineSerializer(serializers.ModelSerializer):
    amount = money_out(
        allow_null=True, help_text="Paid on the invoice; null: the advice gives none"
    )
    deduction = money_out(help_text="What the payer deducted from the invoice")
    invoice_id = serializers.UUIDField(allow_null=True, read_only=True)
    status = serializers.ChoiceField(choices=RemittanceLine.Status.choices, read_only=True)

    class Meta:
        model = RemittanceLine
        fields = [
            "line_number",
            "reference",
            "invoice_id",
            "amount",
            "deduction",
            "deduction_reason",
            "status",
            "message",
        ]
        read_only_fields = fields


class RemittanceRejectedLineSerializer(serializers.Serializer):
    line_number = serializers.IntegerField()
    reason = serializers.CharField()

    def to_representation(self, instance):
        number, reason = instance
        return {"line_number": number, "reason": reason}


class RemittanceSerializer(serializers.ModelSerializer):
    total = money_out(help_text="The lines' amounts together")
    payment_id = serializers.UUIDField(allow_null=True, read_only=True)
    status = serializers.ChoiceField(
        choices=Remittance.Status.choices,
        read_only=True,
        help_text="`unlinked`: no payment yet; `review`: a clerk decides (see `reason` and "
        "the lines' `message`); `applied`: the payment was applied line by line",
    )
    format = serializers.ChoiceField(choices=Remittance.Format.choices, read_only=True)
    lines = RemittanceLineSerializer(many=True, read_only=True)
    rejected = RemittanceRejectedLineSerializer(
        many=True, read_only=True, help_text="Lines that could not be read, with why"
    )

    class Meta:
        model = Remittance
        fields = [
            "id",
            "format",
            "filename",
            "payer_name",
            "payment_reference",
            "payment_id",
            "status",
            "reason",
            "total",
            "lines",
            "rejected",
            "created_at",
        ]
        read_only_fields = fields


class RemittanceViewSet(OrgScopedViewSet):
    """Remittance advice: which invoices a payment pays."""

    serializer_class = RemittanceSerializer
    parser_classes = [MultiPartParser, FormParser, JSONParser]
    filter_backends = []
    pagination_class = None

    def scoped_queryset(self, organization):
        return Remittance.objects.for_org(organization).prefetch_related("lines")

    @extend_schema(
        summary="Send remittance advice",
        description="A CSV or spreadsheet export (as CSV), CAMT.053 structured remittance "
        "(`RmtInf/Strd/RfrdDocInf`, amounts per document) or the text of an email, as "
        "`file` (multipart) or `text`. Read into lines (invoice reference, amount, "
        "deduction), linked to its payment, and — when every line names an open invoice "
        "of the payment's currency, none asks more than its invoice owes and they add up to "
        "the payment — applied line by line, each deduction opened as a deduction. "
        "Otherwise left for a clerk (`status` `review` with the `reason`). 400 naming "
        "`file` for advice that cannot be read, `payment_id` for an unknown payment.",
        request={"multipart/form-data": RemittanceInput, "application/json": RemittanceInput},
        responses={201: RemittanceSerializer},
    )
    def create(self, request):
        data = self.get_input(RemittanceInput)
        upload = data.get("file")
        remittance = remittances.remittance_create(
            organization=self.organization,
            data=upload.read() if upload is not None else data["text"],
            filename=upload.name if upload is not None else "",
            payment_id=data.get("payment_id"),
            payer_name=data["payer_name"],
            payment_reference=data["payment_reference"],
            field="file" if upload is not None else "text",
        )
        remittance = remittances.remittance_get(organization=self.organization, pk=remittance.pk)
        return Response(
            {"data": RemittanceSerializer(remittance).data}, status=status.HTTP_201_CREATED
        )

    @extend_schema(
        summary="Get remittance advice",
        description="The advice with its lines, the payment it was linked to and what "
        "became of it. 404 for another organization's.",
        responses={200: RemittanceSerializer},
    )
    def retrieve(self, request, pk=None):
        remittance = remittances.remittance_get(organization=self.organization, pk=pk)
        return Response({"data": RemittanceSerializer(remittance).data})


urlpatterns = [
    path("remittances", RemittanceViewSet.as_view({"post": "create"}), name="remittance-list"),
    path(
        "remittances/<str:pk>",
        RemittanceViewSet.as_view({"get": "retrieve"}),
        name="remittance-detail",
    ),
]
