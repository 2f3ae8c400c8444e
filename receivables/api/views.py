from drf_spectacular.utils import OpenApiParameter, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.decorators import action

from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from arpilot.errors import NotFound
from receivables import selectors, services
from receivables.api import serializers as s
from receivables.api.renderers import OrjsonRenderer
from receivables.filters import InvoiceFilterSet
from receivables.rendering import render_invoice_row


class InvoiceViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Invoices, newest issue date first.

    `status` is derived: `pending` (open, nothing received), `partial`, `paid`
    (amount_due 0), `overdue` (open and due before today in the customer's timezone, from
    the moment that is true), `draft` (not issued: no ledger entry, no money) and `void`.
    An explicit status must agree with the money (`pending` is accepted for any open
    invoice and issues a draft). Every update carrying `external_payment_amount` records
    one offline payment (its own row and ledger entry); `amount_due` sent with it must equal
    the balance after that one payment (400 naming `amount_due` otherwise, nothing changes);
    lowering `amount_due` alone records the difference the same way. A mistaken offline
    payment is reversed with `POST /invoices/{id}/offline-payments/{payment_id}/reverse`. Amount, lines, customer and receivable account can change only
    while no money has been received (409 after); `status: "void"` voids an invoice that
    has received none (409 otherwise). Lines: the amount is their sum (400 otherwise);
    without lines an invoice gets one line to the default revenue account and fund.
    """

    schema_docs = {
        "list": ("List invoices", ""),
        "create": ("Create an invoice", ""),
        "retrieve": ("Get an invoice", ""),
        "update": ("Update an invoice", ""),
        "partial_update": ("Update an invoice", ""),
    }

    serializer_class = s.InvoiceSerializer
    input_serializers = {
        "create": s.InvoiceCreateSerializer,
        "partial_update": s.InvoiceUpdateSerializer,
        "update": s.InvoiceUpdateSerializer,
    }
    filterset_class = InvoiceFilterSet
    renderer_classes = [OrjsonRenderer]
    http_method_names = ["get", "post", "put", "patch", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.invoice_list(organization=organization)

    def list(self, request, *args, **kwargs):
        rows = self.paginate_queryset(
            selectors.invoice_rows(self.filter_queryset(self.get_queryset()))
        )
        ids = [row[0] for row in rows]
        lines = selectors.invoice_line_rows(ids) if rows else {}
        offline = selectors.invoice_offline_rows(ids) if rows else {}
        data = [
            render_invoice_row(row, lines.get(row[0], []), offline.get(row[0], [])) for row in rows
        ]
        return self.get_paginated_response(data)

    def create(self, request, *args, **kwargs):
        data = dict(self.get_input())
        invoice = services.invoice_create(
            organization=self.organization,
            customer=data.pop("customer_id"),
            lines=data.pop("lines", None),
            **data,
        )
        # invoice_create hands back the invoice with its lines: no need to read it again.
        return self.respond(invoice, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        invoice = self.get_object()
        data = dict(self.get_input(partial=True))
        if "customer_id" in data:
            data["customer"] = data.pop("customer_id")
        invoice = services.invoice_update(
            invoice=invoice,
            lines=data.pop("lines", None),
            external_payment_amount=data.pop("external_payment_amount", None),
            changes=data,
        )
        return self.respond(self.reload(invoice))

    update = partial_update

    @extend_schema(
        request=s.OfflinePaymentReverseSerializer,
        responses={200: s.InvoiceSerializer},
        parameters=[
            OpenApiParameter(
                "payment_id",
                OpenApiTypes.UUID,
                OpenApiParameter.PATH,
                description="Id of one of the invoice's `offline_payments`",
            )
        ],
        summary="Reverse an offline payment",
        description="Take back a mistaken offline payment (one of the invoice's "
        "`offline_payments`: an `external_payment_amount`, a lowered `amount_due`, an Aplos "
        "receive or a balance paid before the invoice was recorded). A `payment_reversal` "
        "ledger entry mirrors its payment entry, `amount_due` rises by its amount and the "
        "status is derived again; the offline payment keeps its row with `reversed_at`, "
        "`reversed_by` (the API key's name) and `reason`. `reason` is required (400). A "
        "payment already reversed is a 409; an id that is not an offline payment of this "
        "invoice is a 404. Returns the invoice.",
    )
    @action(
        detail=True,
        methods=["post"],
        url_path=r"offline-payments/(?P<payment_id>[^/.]+)/reverse",
        url_name="offline-payment-reverse",
    )
    def reverse_offline_payment(self, request, pk=None, payment_id=None):
        invoice = self.get_object()
        data = self.get_input(s.OfflinePaymentReverseSerializer)
        services.invoice_offline_payment_reverse(
            invoice=invoice,
            offline_payment_id=payment_id,
            reason=data["reason"],
            reversed_by=_api_actor(request),
        )
        return self.respond(self.reload(invoice))


def _api_actor(request) -> str:
    """Who reversed, as the API knows it: the API key's name (or "api")."""
    key = getattr(request, "auth", None)
    name = getattr(key, "name", "") or ""
    return f"api:{name}" if name else "api"


class AccountViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """The chart of accounts (1000 Cash, 1100 Accounts Receivable and 4000 Revenue are seeded)."""

    schema_docs = {
        "list": ("List GL accounts", ""),
        "create": ("Create a GL account", ""),
        "retrieve": ("Get a GL account", ""),
        "partial_update": ("Update a GL account", "Only the fields sent change."),
    }

    serializer_class = s.AccountSerializer
    input_serializers = {
        "create": s.AccountCreateSerializer,
        "partial_update": s.AccountUpdateSerializer,
    }
    http_method_names = ["get", "post", "patch", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.account_list(organization=organization)

    def create(self, request, *args, **kwargs):
        account = services.account_create(organization=self.organization, **self.get_input())
        return self.respond(account, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        account = services.account_update(account=self.get_object(), **self.get_input(partial=True))
        return self.respond(account)


class FundViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Funds (integer ids, as on the Aplos face); "General Fund" is seeded and the default."""

    schema_docs = {
        "list": ("List funds", ""),
        "create": ("Create a fund", ""),
        "retrieve": ("Get a fund", ""),
        "partial_update": ("Update a fund", "Only the fields sent change."),
    }

    serializer_class = s.FundSerializer
    input_serializers = {"create": s.FundCreateSerializer, "partial_update": s.FundUpdateSerializer}
    http_method_names = ["get", "post", "patch", "head", "options"]
    lookup_value_regex = "[0-9]+"

    def scoped_queryset(self, organization):
        return selectors.fund_list(organization=organization)

    def get_object(self):
        lookup = str(self.kwargs["pk"])
        if not lookup.isdigit() or int(lookup) > 2**63 - 1:
            raise NotFound("Not found.")
        obj = self.get_queryset().filter(pk=int(lookup)).first()
        if obj is None:
            raise NotFound("Not found.")
        return obj

    def create(self, request, *args, **kwargs):
        fund = services.fund_create(organization=self.organization, **self.get_input())
        return self.respond(fund, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        fund = services.fund_update(fund=self.get_object(), **self.get_input(partial=True))
        return self.respond(fund)
