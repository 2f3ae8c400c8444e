from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, OpenApiTypes, extend_schema
from rest_framework import status
from rest_framework.decorators import action
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response

from arpilot import hooks
from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from arpilot.errors import NotFound, ValidationFailed
from customers.models import Customer
from receivables import selectors, services
from receivables.api import serializers as s
from receivables.api.renderers import OrjsonRenderer
from receivables.filters import ExchangeRateFilterSet, InvoiceFilterSet
from receivables.models import Invoice
from receivables.rendering import render_invoice_row
from receivables.statement_pdf import PDF_MEDIA_TYPE, statement_filename, statement_pdf
from receivables.statements import customer_statement, organization_today, statement_period


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
        described = invoices_described(self.organization, ids)
        for item in data:
            item.update(described.get(item["id"], ()))
        return self.get_paginated_response(data)

    def respond(self, instance, status: int = status.HTTP_200_OK) -> Response:
        """One invoice, with the fields higher apps add (``invoices_described``)."""
        response = super().respond(instance, status)
        if isinstance(instance, Invoice):
            described = invoices_described(self.organization, [instance.pk], created=status == 201)
            response.data["data"].update(described.get(str(instance.pk), ()))
        return response

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


def invoices_described(organization, invoice_ids, *, created: bool = False) -> dict:
    """The fields higher apps add to invoice JSON (collections: ``dispute``), by invoice id
    as a string: one ``InvoicesDescribed`` dispatch for a page (one query per receiver)."""
    merged: dict = {}
    if not invoice_ids:
        return merged
    event = hooks.InvoicesDescribed(
        organization=organization, invoice_ids=tuple(invoice_ids), created=created
    )
    for fields_by_invoice in hooks.dispatch(event):
        for invoice_id, fields in fields_by_invoice.items():
            merged.setdefault(str(invoice_id), {}).update(fields)
    return merged


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


# --- exchange rates -----------------------------------------------------------------------------

_RATES_DESCRIPTION = (
    "The organization's exchange rates: `rate` is what one unit of `currency` is worth in "
    "the organization's base currency, from `date` until the currency's next rate. The rate "
    "of a day is the latest recorded on or before it. A cross-currency apply will take its "
    "rate from here when the request gives no `exchange_rate`."
)
_RATE_CREATE_DESCRIPTION = (
    "Record one rate. Posting a currency and date already recorded **replaces** that rate "
    "(200, the same `id`, a new `updated_at`); a new one is a 201. A rate for the base "
    "currency, an unknown currency code, a rate of zero or less, or one with more than 10 "
    "decimal places (never rounded) is a 400 naming the field."
)
_RATE_IMPORT_DESCRIPTION = (
    "Upload many rates as a CSV file (multipart `file`, UTF-8): a header line naming the "
    "columns `currency`, `date` and `rate` (any order), then one rate a line; dates are "
    "YYYY-MM-DD, rates plain decimals with a point (`1.0825`; no signs, exponents or "
    "thousands separators), kept exactly. Blank lines are skipped.\n\n"
    "**All or nothing**: if any line is bad, nothing is recorded and the answer is a 400 "
    "whose `error.rejected` lists every bad line as `{line, field, reason}` (line 1 is the "
    "header; `error.fields.file` says the same in words). Bad lines are: a wrong number of "
    "values, an unknown currency or the base currency, a date that is not YYYY-MM-DD, a "
    "rate that is not a positive decimal or has more than 10 decimal places, and a currency "
    "and date repeated from an earlier line. A file that is not UTF-8, has no header or no "
    "rates, is over 5 MB or has more than 50,000 rates is a 400 naming `file`. A currency "
    "and date already recorded are replaced, as by `POST /exchange-rates`; the answer counts "
    "the rates `created` and `replaced`."
)


class ExchangeRateViewSet(ListModelMixin, OrgScopedViewSet):
    """Exchange rates into the organization's base currency, per currency and date."""

    schema_docs = {
        "list": ("List exchange rates", _RATES_DESCRIPTION),
        "create": ("Record an exchange rate", _RATE_CREATE_DESCRIPTION),
    }

    serializer_class = s.ExchangeRateSerializer
    input_serializers = {
        "create": s.ExchangeRateCreateSerializer,
        "import_file": s.ExchangeRateImportSerializer,
    }
    filterset_class = ExchangeRateFilterSet
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.exchange_rate_list(organization=organization)

    @extend_schema(responses={201: s.ExchangeRateSerializer, 200: s.ExchangeRateSerializer})
    def create(self, request, *args, **kwargs):
        rate, created = services.exchange_rate_set(
            organization=self.organization, **self.get_input()
        )
        return self.respond(rate, status=status.HTTP_201_CREATED if created else status.HTTP_200_OK)

    @extend_schema(
        request={"multipart/form-data": s.ExchangeRateImportSerializer},
        responses={200: s.ExchangeRateImportedSerializer},
        summary="Import exchange rates from a CSV file",
        description=_RATE_IMPORT_DESCRIPTION,
    )
    @action(
        detail=False,
        methods=["post"],
        url_path="import",
        url_name="import",
        parser_classes=[MultiPartParser, FormParser],
    )
    def import_file(self, request):
        upload = self.get_input()["file"]
        if upload.size > services.RATES_IMPORT_MAX_BYTES:
            raise ValidationFailed("The file is too large.", fields={"file": ["At most 5 MB."]})
        result = services.exchange_rates_import(organization=self.organization, data=upload.read())
        return Response({"data": {"created": result.created, "replaced": result.replaced}})


# --- customer statements --------------------------------------------------------------------


class StatementPdfRenderer(BaseRenderer):
    """``Accept: application/pdf``: the view hands over the PDF's bytes."""

    media_type = PDF_MEDIA_TYPE
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else b""


_STATEMENT_DESCRIPTION = (
    "The customer's statement of account for a period, from the receivables ledger: the "
    "`opening_balance` (everything before `from`), one line per ledger entry dated in "
    "`[from, to]` with its `charge` or `credit` and the running `balance` (invoices issued, "
    "changed, voided or deleted; payments applied and unapplied; short-payments written off "
    "and reversed; money received outside ARPilot and reversed), the totals, the "
    "`closing_balance` (opening + charges - credits) and the aging of the open invoices on "
    "`to` (current, 1-30, 31-60, 61-90, 90+ days past due; the buckets add up to the closing "
    "balance). Entries are dated by the ledger: an invoice on its issue date, a payment on "
    "the date it was received, a reversal on the day it was made.\n\n"
    "`to` defaults to today in the organization's timezone, `from` to 90 days before `to`. "
    "A date that is not YYYY-MM-DD, or `from` after `to`, is a 400 naming the field; "
    "another organization's customer is a 404.\n\n"
    "With `Accept: application/pdf` the same statement comes as a PDF "
    "(`Content-Disposition: attachment`); errors are JSON whatever the `Accept`."
)


_STATEMENT_SEND_DESCRIPTION = (
    "Email the customer its statement of account for a period (`from`, `to` in the body, "
    "both optional, with the defaults and checks of `GET /customers/{id}/statement`): the "
    "statement as a PDF attachment with a short cover note giving the period and the closing "
    "balance, to the customer's primary contact and its escalation-level-1 contacts that "
    "have an email address. The email goes through the outbox: it is queued in this "
    "request and sent in the background; `email_id` names it.\n\n"
    "A customer with no such contact is a 400 naming `customer_id`; another organization's "
    "customer is a 404. Send an `Idempotency-Key` to make a retry safe: a repeat is "
    "answered from the first response and queues no second email."
)


class CustomerStatementViewSet(OrgScopedViewSet):
    """A customer's statement of account (served under ``/customers/{id}/statement``)."""

    serializer_class = s.StatementSerializer
    renderer_classes = [JSONRenderer, StatementPdfRenderer]
    http_method_names = ["get", "post", "head", "options"]

    def scoped_queryset(self, organization):
        return Customer.objects.for_org(organization)

    @extend_schema(
        summary="Get a customer's statement of account",
        description=_STATEMENT_DESCRIPTION,
        parameters=[
            OpenApiParameter(
                "from",
                OpenApiTypes.DATE,
                OpenApiParameter.QUERY,
                description="First day of the period (YYYY-MM-DD); default: 90 days before `to`",
            ),
            OpenApiParameter(
                "to",
                OpenApiTypes.DATE,
                OpenApiParameter.QUERY,
                description="Last day of the period (YYYY-MM-DD); default: today in the "
                "organization's timezone",
            ),
        ],
        responses={
            (200, "application/json"): OpenApiResponse(
                s.StatementSerializer,
                description="The statement (JSON), or with `Accept: application/pdf` the "
                "statement as a PDF file.",
            ),
            (200, PDF_MEDIA_TYPE): {"type": "string", "format": "binary"},
        },
    )
    @action(detail=True, methods=["get"], url_path="statement", url_name="statement")
    def statement(self, request, pk=None):
        customer = self.get_object()
        date_from, date_to = statement_period(
            request.query_params, today=organization_today(self.organization)
        )
        statement = customer_statement(
            organization=self.organization,
            customer=customer,
            date_from=date_from,
            date_to=date_to,
        )
        if request.accepted_renderer.format != StatementPdfRenderer.format:
            return self.respond(statement)
        pdf = statement_pdf(statement, organization_name=self.organization.name)
        disposition = f'attachment; filename="{statement_filename(statement)}"'
        return Response(pdf, headers={"Content-Disposition": disposition})

    @extend_schema(
        summary="Email a customer's statement of account",
        description=_STATEMENT_SEND_DESCRIPTION,
        request=s.StatementSendSerializer,
        responses={202: s.StatementSentSerializer},
    )
    @action(
        detail=True,
        methods=["post"],
        url_path="statement/send",
        url_name="statement-send",
        renderer_classes=[JSONRenderer],
    )
    def statement_send(self, request, pk=None):
        customer = self.get_object()
        data = self.get_input(s.StatementSendSerializer)
        email = services.statement_send(
            organization=self.organization,
            customer=customer,
            period_from=data.get("from"),
            period_to=data.get("to"),
        )
        if email is None:
            raise ValidationFailed(
                "The customer has no contact with an email address.",
                fields={"customer_id": ["The customer has no contact with an email address."]},
            )
        return Response(
            {"queued": 1, "email_id": str(email.pk), "to": list(email.to)},
            status=status.HTTP_202_ACCEPTED,
        )

    def finalize_response(self, request, response, *args, **kwargs):
        """Errors are JSON even when the PDF was asked for."""
        if response.status_code >= 400 and isinstance(
            getattr(request, "accepted_renderer", None), StatementPdfRenderer
        ):
            request.accepted_renderer = JSONRenderer()
            request.accepted_media_type = JSONRenderer.media_type
        return super().finalize_response(request, response, *args, **kwargs)


_STATEMENTS_SEND_DESCRIPTION = (
    "Email statements of account (the last 90 days, as `POST /customers/{id}/statement/send` "
    "sends one) to many customers: those in `customer_ids`, or, without it, every customer "
    "with an open balance (an open invoice with an amount due). The statements are rendered "
    "and queued in the background, so the answer comes at once: `queued` is the number of "
    "customers whose statements will be sent, `skipped_no_email` the number selected but "
    "skipped because no primary or escalation-level-1 contact has an email address.\n\n"
    "An id in `customer_ids` that is not one of the organization's customers (or not an id) "
    "is a 400 naming `customer_ids`, and nothing is sent. Send an `Idempotency-Key` to make "
    "a retry safe: a repeat is answered from the first response and sends nothing again."
)


class StatementSendViewSet(OrgScopedViewSet):
    """Statements of account emailed in bulk (``POST /statements/send``)."""

    serializer_class = s.StatementsQueuedSerializer
    input_serializers = {"send": s.StatementsSendSerializer}
    http_method_names = ["post", "options"]

    def scoped_queryset(self, organization):
        return Customer.objects.for_org(organization)

    @extend_schema(
        summary="Email statements to many customers",
        description=_STATEMENTS_SEND_DESCRIPTION,
        request=s.StatementsSendSerializer,
        responses={202: s.StatementsQueuedSerializer},
    )
    @action(detail=False, methods=["post"], url_path="send", url_name="send")
    def send(self, request):
        data = self.get_input()
        result = services.statements_send(
            organization=self.organization, customer_ids=data.get("customer_ids")
        )
        return Response(
            {"queued": result.queued, "skipped_no_email": result.skipped_no_email},
            status=status.HTTP_202_ACCEPTED,
        )
