import functools

from django.db import transaction
from drf_spectacular.utils import extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response

from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from arpilot.queueing import task_send
from payments import selectors, services, tasks
from payments.api import serializers as s
from payments.filters import PaymentFilterSet
from payments.services.credit import payment_customer_assign


class PaymentViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Payments received, newest payment date first. Creating one matches it against open
    invoices at once: with the default settings a payment whose reference names exactly one
    open invoice, whose amount equals that invoice's open balance and whose payer is that
    invoice's customer is applied automatically (``auto_applied: true``, ``reviewed: false``)."""

    schema_docs = {
        "list": ("List payments", ""),
        "create": (
            "Record a payment",
            "Record one received payment; only `amount` and `payment_date` are required. It "
            "is matched against open invoices at once (see the list). A repeated "
            "`external_payment_id` is a 409 naming the payment in `error.existing_id`.",
        ),
        "retrieve": ("Get a payment", ""),
        "update": ("Apply or update a payment", "Same as PATCH."),
        "partial_update": (
            "Apply or update a payment",
            "Apply the payment to an invoice (`invoice_id`) or spread it (`allocations`), "
            "unapply it, assign it to a customer (`customer_id`: its remainder becomes that "
            "customer's credit), mark it reviewed, or change its payer details and notes. Only "
            "the fields sent change; a 400 changes nothing. What was refunded of a payment "
            "(`refunded_amount`) is never applied again.",
        ),
    }

    serializer_class = s.PaymentSerializer
    input_serializers = {
        "create": s.PaymentCreateSerializer,
        "partial_update": s.PaymentUpdateSerializer,
        "update": s.PaymentUpdateSerializer,
        "import_file": s.PaymentImportCreateSerializer,
    }
    filterset_class = PaymentFilterSet
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.payment_list(organization=organization)

    def create(self, request, *args, **kwargs):
        payment = services.payment_record(organization=self.organization, **self.get_input())
        if not selectors.payment_held_for_rendering(payment):  # matched later by the task
            payment = self.reload(payment)
        return self.respond(payment, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        payment_id = self.get_url_pk()  # payment_update locks and reads it (404 if not ours)
        data = dict(self.get_input(partial=True))
        options = {}
        if "invoice_id" in data:
            options["invoice_id"] = data.pop("invoice_id")
        if "allocations" in data:
            options["allocations"] = data.pop("allocations")
        reason_code = data.pop("deduction_reason_code", None)
        deduction_note = data.pop("deduction_note", "")
        assign = "customer_id" in data
        customer_id = data.pop("customer_id", None)
        update = functools.partial(
            services.payment_update,
            organization=self.organization,
            payment_id=payment_id,
            write_off_short_payment=data.pop("write_off_short_payment", False),
            reviewed=data.pop("reviewed", None),
            changes=data,
            **options,
        )
        if reason_code is None and not assign:
            payment = update()
        else:
            with transaction.atomic():  # the assignment, update and deductions, or none
                if assign:
                    payment_customer_assign(
                        organization=self.organization,
                        payment_id=payment_id,
                        customer_id=customer_id,
                    )
                payment = update()
                if reason_code is not None:
                    services.payment_deduct_short(
                        organization=self.organization,
                        payment_id=payment_id,
                        reason_code=reason_code,
                        note=deduction_note,
                    )
        return self.respond(self.reload(payment))

    update = partial_update

    @extend_schema(
        request={"multipart/form-data": s.PaymentImportCreateSerializer},
        responses={202: s.PaymentImportSerializer},
        summary="Import a bank file",
        description="Upload a bank file (CSV, OFX, ISO 20022 CAMT.053 or BAI2, recognised by "
        "its content). The import runs in the background: follow it at "
        "`GET /api/v1/payments/imports/{id}`. A file that is not a bank file is a 400. "
        "Payments imported before (same bank transaction id, or same account, date, amount, "
        "reference and payer when the file has no ids) are skipped.",
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_file(self, request):
        data = self.get_input()
        upload = data["file"]
        payment_import = services.payment_import_create(
            organization=self.organization,
            filename=upload.name,
            data=upload.read(),
            csv_mapping=data.get("mapping"),
        )
        body = s.PaymentImportSerializer(
            selectors.payment_import_list(organization=self.organization).get(pk=payment_import.pk)
        ).data
        return Response({"data": body}, status=status.HTTP_202_ACCEPTED)

    @extend_schema(
        request=None,
        responses={202: s.MatchQueuedSerializer},
        summary="Match all unmatched payments",
        description="Queue a matching run over every unmatched payment of the organization: "
        "suggestions are refreshed and unambiguous matches auto-applied.",
    )
    @action(detail=False, methods=["post"])
    def match(self, request):
        task_send(tasks.payments_match_task, args=[self.organization.pk])
        return Response({"queued": True}, status=status.HTTP_202_ACCEPTED)


class PaymentImportViewSet(RetrieveModelMixin, OrgScopedViewSet):
    """Bank-file imports: status, progress and outcome."""

    schema_docs = {"retrieve": ("Get a bank-file import", "")}

    serializer_class = s.PaymentImportSerializer
    http_method_names = ["get", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.payment_import_list(organization=organization)
