"""Customer on-account credit over the API: ``/api/v1/customers/{id}/credit`` and its refund.

Under ``/customers/{id}/`` but payments' (the credit is payments' remainders, and customers
and credits cannot import payments)."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response

from arpilot.api.fields import money_in, money_out
from arpilot.api.views import OrgScopedViewSet
from arpilot.money import MILL
from customers.models import Customer
from payments.services import credit


class CreditPaymentSerializer(serializers.Serializer):
    payment_id = serializers.UUIDField(source="pk")
    payment_date = serializers.DateField()
    payer_name = serializers.CharField()
    payer_reference = serializers.CharField()
    amount = money_out(help_text="The payment's amount")
    amount_remaining = money_out(
        source="remaining", help_text="What is left of it: neither applied nor refunded"
    )
    assigned = serializers.SerializerMethodField(
        help_text="True when a clerk assigned the payment to the customer; false when it is "
        "the customer's because it is applied only to the customer's invoices"
    )

    def get_assigned(self, payment) -> bool:
        return payment.customer_id is not None


class CreditNoteSourceSerializer(serializers.Serializer):
    credit_note_id = serializers.UUIDField(source="id")
    number = serializers.CharField()
    issue_date = serializers.DateField()
    amount_remaining = money_out(help_text="What is left to apply")


class CurrencyCreditSerializer(serializers.Serializer):
    currency = serializers.CharField(help_text="ISO 4217")
    total = money_out(help_text="Payments' remainders and credit notes' remainders together")
    payments_total = money_out()
    credit_notes_total = money_out()
    payments = CreditPaymentSerializer(many=True, help_text="Oldest first")
    credit_notes = CreditNoteSourceSerializer(many=True)


class CustomerCreditSerializer(serializers.Serializer):
    customer_id = serializers.UUIDField()
    currencies = CurrencyCreditSerializer(
        many=True, help_text="One entry per currency with credit (alphabetical); empty: none"
    )


class RefundInput(serializers.Serializer):
    payment_id = serializers.UUIDField(
        help_text="A payment with credit left for this customer (400 naming it otherwise)"
    )
    amount = money_in(
        currency_checked=True,
        min_value=MILL,
        help_text="At most the payment's credit left, in the payment's currency and its "
        "decimal places",
    )
    method = serializers.CharField(
        max_length=100, required=False, allow_blank=True, default="", help_text="e.g. `ach`"
    )
    reference = serializers.CharField(
        max_length=255, required=False, allow_blank=True, default="", help_text="e.g. a check no."
    )
    date = serializers.DateField(required=False, help_text="Default: today")


class RefundSerializer(serializers.Serializer):
    id = serializers.UUIDField()
    customer_id = serializers.UUIDField()
    payment_id = serializers.UUIDField()
    amount = money_out()
    currency = serializers.CharField()
    date = serializers.DateField()
    method = serializers.CharField()
    reference = serializers.CharField()
    journal_entry_id = serializers.UUIDField()
    accounting_change_id = serializers.UUIDField(
        allow_null=True, help_text="The pending accounting change (`refund`) it recorded"
    )
    created_at = serializers.DateTimeField()

    def to_representation(self, refund):
        change_id = getattr(getattr(refund, "accounting_change", None), "pk", None)
        return super().to_representation(credit.render_refund(refund, change_id))


class CustomerCreditViewSet(OrgScopedViewSet):
    """A customer's on-account credit (under ``/customers/{id}/``)."""

    serializer_class = CustomerCreditSerializer
    filter_backends = []
    pagination_class = None

    def scoped_queryset(self, organization):
        return Customer.objects.for_org(organization)

    @extend_schema(
        summary="A customer's on-account credit",
        description="What the customer has on account, by currency: payments' remainders "
        "(neither applied nor refunded) of payments that are the customer's — assigned to "
        "it, or applied only to its invoices (a payment applied to nobody and assigned to "
        "nobody is not credit: it is in the review queue) — and its posted credit notes "
        "with something left. Apply a payment's credit with `PATCH /api/v1/payments/{id}` "
        "(`allocations`); refund it with `POST …/credit/refund`. 404 for a customer of "
        "another organization.",
        responses={200: CustomerCreditSerializer},
    )
    def credit(self, request, pk=None):
        customer = credit.customer_get(
            organization=self.organization, customer_id=self.get_url_pk()
        )
        rows = credit.customer_credit(organization=self.organization, customer=customer)
        body = CustomerCreditSerializer({"customer_id": customer.pk, "currencies": rows}).data
        return Response({"data": body})

    @extend_schema(
        summary="Refund a customer's credit",
        description="Pay (part of) a payment's remainder back to the customer: an outgoing "
        "payment, posted as the remainder received on account (Dr cash / Cr receivable) and "
        "paid back (Dr receivable / Cr cash), in the base currency (a foreign payment at "
        "the rate table's rate on `date`: 400 naming `date` without one). That much of the "
        "payment is no longer credit. Records a pending accounting change `refund` (approved "
        "with the payment's review) and sends `customer.credit_refunded`. 400 naming "
        "`payment_id` for a payment that is not the customer's credit, `amount` beyond what "
        "is left or with more places than the currency has. 404 for a customer of another "
        "organization.",
        request=RefundInput,
        responses={201: RefundSerializer},
    )
    def refund(self, request, pk=None):
        customer_id = self.get_url_pk()
        data = self.get_input(RefundInput)
        refund = credit.credit_refund(
            organization=self.organization,
            customer_id=customer_id,
            payment_id=data["payment_id"],
            amount=data["amount"],
            refund_date=data.get("date"),
            method=data["method"],
            reference=data["reference"],
        )
        body = RefundSerializer(refund).data
        return Response({"data": body}, status=status.HTTP_201_CREATED)


urlpatterns = [
    path(
        "customers/<str:pk>/credit",
        CustomerCreditViewSet.as_view({"get": "credit"}),
        name="customer-credit",
    ),
    path(
        "customers/<str:pk>/credit/refund",
        CustomerCreditViewSet.as_view({"post": "refund"}),
        name="customer-credit-refund",
    ),
]
