"""``/hermes/api/v1/receivables``: ARPilot invoices through the Aplos receivables API.

Integer ids, the Aplos envelope (``version``, ``status``, ``message``, ``meta``, ``links``,
``data``) and field names as Aplos has them; errors use ARPilot's error envelope.

Void and draft invoices are not receivables here: list and search leave them out. Get (and
put, receive, delete) by id still finds them, so that a client holding the id of a
receivable that was since voided or that is still a draft in ARPilot can see what it is
(put and receive then answer as the invoice services do, e.g. 409 on a void one).
"""

from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import serializers
from rest_framework.decorators import action
from rest_framework.permissions import BasePermission
from rest_framework.response import Response

from arpilot.api.pagination import positive_int_param
from arpilot.api.permissions import HasOrganization
from arpilot.api.schema import ArpilotAutoSchema
from arpilot.api.views import OrgScopedViewSet
from arpilot.errors import NotFound
from arpilot.timezones import zone
from receivables import selectors, services
from receivables.aplos import serializers as s
from receivables.aplos.services import (
    aplos_receivable_create,
    aplos_receivable_put,
    aplos_receivable_receive,
)
from receivables.filters import AplosReceivableFilterSet
from receivables.models import Invoice
from receivables.rendering import aplos_timestamp

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 500
MAX_PAGE_NUM = 10**15  # times MAX_PAGE_SIZE stays below 2**62
LINK_BASE = "/hermes/api/v1/receivables"  # the paths this face serves


class AplosAccountHeader(BasePermission):
    """``aplos-account-id``, when sent, must be the API key's own organization id."""

    message = "aplos-account-id does not match the organization of this API key."

    def has_permission(self, request, view) -> bool:
        value = request.headers.get("aplos-account-id")
        if value is None:
            return True
        return value.strip() == str(request.organization.pk)


ACCOUNT_HEADER = OpenApiParameter(
    name="aplos-account-id",
    type=int,
    location=OpenApiParameter.HEADER,
    required=False,
    description="The organization accessed (optional); must be your API key's organization id, else 403.",
)
FILTER_PARAMETERS = [
    OpenApiParameter("f_accountnumber", int, description=s.AVAILABLE_FILTERS["f_accountnumber"]),
    OpenApiParameter("f_amount", OpenApiTypes.NUMBER, description=s.AVAILABLE_FILTERS["f_amount"]),
    OpenApiParameter("f_contact", int, description=s.AVAILABLE_FILTERS["f_contact"]),
    OpenApiParameter("f_contactname", str, description=s.AVAILABLE_FILTERS["f_contactname"]),
    OpenApiParameter("f_fund", int, description=s.AVAILABLE_FILTERS["f_fund"]),
    OpenApiParameter("f_note", str, description=s.AVAILABLE_FILTERS["f_note"]),
    OpenApiParameter(
        "f_rangeend", OpenApiTypes.DATE, description=s.AVAILABLE_FILTERS["f_rangeend"]
    ),
    OpenApiParameter(
        "f_rangestart", OpenApiTypes.DATE, description=s.AVAILABLE_FILTERS["f_rangestart"]
    ),
    OpenApiParameter("f_referencenum", str, description=s.AVAILABLE_FILTERS["f_referencenum"]),
    OpenApiParameter(
        "page_size",
        int,
        description=f"Receivables per page (default {DEFAULT_PAGE_SIZE}, at most {MAX_PAGE_SIZE})",
    ),
    OpenApiParameter("page_num", int, description="Page number, from 1"),
]
ALL_TAGS = OpenApiParameter("allTags", str, enum=["y", "n"], description="List all tags: y, n")


class AplosAutoSchema(ArpilotAutoSchema):
    """Aplos lists are one envelope object, not a JSON array."""

    def _is_list_view(self, serializer=None) -> bool:
        return False


def _tz(organization) -> ZoneInfo:
    return zone(organization.timezone)


def render_receivable(invoice, tz, *, lines=True, modified=True, received=True, tags=None) -> dict:
    customer = invoice.customer
    contact = customer.aplos_contact
    data = {
        "id": invoice.aplos_id,
        "bill_date": invoice.issue_date.isoformat(),
        "due_date": invoice.due_date.isoformat(),
        "reference_num": invoice.invoice_number,
        "note": invoice.notes,
        "contact": {
            "id": contact.id,
            "companyname": customer.company_name,
            "type": contact.type,
        },
        "created": aplos_timestamp(invoice.created_at, tz),
    }
    if modified:
        data["modified"] = aplos_timestamp(invoice.updated_at, tz)
    data["amount"] = invoice.amount
    if received:
        data["received"] = invoice.amount - invoice.amount_due
    data["asset_account"] = {
        "account_number": invoice.ar_account.account_number,
        "name": invoice.ar_account.name,
    }
    if lines:
        data["lines"] = [
            {
                "id": line.id,
                "note": line.note,
                "amount": line.amount,
                "account": {
                    "account_number": line.account.account_number,
                    "name": line.account.name,
                },
                "fund": {"id": line.fund_id, "name": line.fund.name},
            }
            for line in invoice.lines.all()
        ]
    if tags is not None:
        data["tags"] = [{"id": str(tag.id), "name": tag.name} for tag in tags]
    return data


def envelope(*, message=None, meta=None, links=None, data=None) -> dict:
    body = {"version": s.APLOS_VERSION}
    if message is not None:
        body["message"] = message
    body["status"] = 200
    if meta is not None:
        body["meta"] = meta
    if links is not None:
        body["links"] = links
    if data is not None:
        body["data"] = data
    return body


@extend_schema_view(
    list=extend_schema(
        operation_id="aplos_receivables_list",
        summary="List/Search receivables",
        description="Receivables in id order. Void and draft invoices are left out. "
        "`f_referencenum` matches the whole reference number, case-insensitively; "
        "`f_rangestart`/`f_rangeend` (on the bill date) must be `yyyy-MM-dd` (400 otherwise). "
        "`links.self` and `links.next` are `/hermes/api/v1/receivables?…` paths.",
        parameters=[ACCOUNT_HEADER, *FILTER_PARAMETERS],
        responses={200: s.AplosListResponse},
    ),
    retrieve=extend_schema(
        operation_id="aplos_receivables_retrieve",
        summary="Get a receivable",
        description="By id; unlike the list, this also finds a void or draft invoice.",
        parameters=[ACCOUNT_HEADER, ALL_TAGS],
        responses={200: s.AplosDetailResponse},
    ),
    create=extend_schema(
        operation_id="aplos_receivables_create",
        summary="Post a receivable",
        description="Create a receivable (an ARPilot invoice) for a contact found by `id`, or "
        "by `companyname` case-insensitively (created when new); `amount` is the sum of the "
        "`lines`. The reply's `links.self` is the receivable's path on this API.",
        parameters=[ACCOUNT_HEADER],
        request=s.AplosReceivableInput,
        responses={200: s.AplosDetailResponse},
    ),
    update=extend_schema(
        operation_id="aplos_receivables_update",
        summary="Put a receivable",
        description="Fields left out keep their value; `lines`, when given, replace all "
        "lines. A `contact` re-points this receivable to that contact (by `id`, else by "
        "`companyname`, case-insensitively, created when new); the contact it had, which "
        "other receivables may share, is not renamed or retyped.",
        parameters=[ACCOUNT_HEADER],
        request=s.AplosReceivablePutInput,
        responses={200: s.AplosDetailResponse},
    ),
    destroy=extend_schema(
        operation_id="aplos_receivables_destroy",
        summary="Delete a receivable (409 once it has received money)",
        description="Delete a receivable that has received no money; one that has is a 409.",
        parameters=[ACCOUNT_HEADER],
        responses={200: s.AplosDeleteResponse},
    ),
)
class AplosReceivableViewSet(OrgScopedViewSet):
    """Aplos-compatible receivables over ARPilot invoices."""

    envelope = False
    schema = AplosAutoSchema()
    pagination_class = None
    filter_backends = []
    permission_classes = [HasOrganization, AplosAccountHeader]
    serializer_class = s.AplosReceivableOut
    lookup_value_regex = "[0-9]+"
    http_method_names = ["get", "post", "put", "delete", "head", "options"]

    def scoped_queryset(self, organization):
        return selectors.aplos_receivable_list(
            organization=organization, with_lines=self.action != "list"
        )

    def get_object(self):
        lookup = str(self.kwargs["pk"])
        if not lookup.isdigit() or int(lookup) > 2**63 - 1:
            raise NotFound("Not found.")
        invoice = self.get_queryset().filter(aplos_id=int(lookup)).first()
        if invoice is None:
            raise NotFound("Not found.")
        return invoice

    def _input(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def _detail(self, invoice, message=None, **render) -> Response:
        invoice = self.get_queryset().get(pk=invoice.pk)
        tz = _tz(self.organization)
        return Response(
            envelope(
                message=message,
                meta={"resource_count": 1},
                links={"self": f"{LINK_BASE}/{invoice.aplos_id}"},
                data={"receivable": render_receivable(invoice, tz, **render)},
            )
        )

    def list(self, request, *args, **kwargs):
        params = request.query_params
        receivables = self.get_queryset().filter(status__in=Invoice.ISSUED_STATUSES)
        filterset = AplosReceivableFilterSet(data=params, queryset=receivables)
        if not filterset.is_valid():
            raise serializers.ValidationError(filterset.errors)
        queryset = filterset.qs
        page_size = min(positive_int_param(request, "page_size", DEFAULT_PAGE_SIZE), MAX_PAGE_SIZE)
        # Any page number past the end is an empty page (capped: no huge OFFSET).
        page_num = positive_int_param(request, "page_num", 1, MAX_PAGE_NUM)
        start = (page_num - 1) * page_size
        page = list(queryset[start : start + page_size + 1]) if start < 2**62 else []
        has_next = len(page) > page_size
        page = page[:page_size]
        tz = _tz(self.organization)
        kept = [(key, params[key]) for key in sorted(params) if key in s.AVAILABLE_FILTERS]

        def link(num: int) -> str:
            return f"{LINK_BASE}?" + urlencode([("page_size", page_size), ("page_num", num), *kept])

        links = {"self": link(page_num)}
        if has_next:
            links = {"next": link(page_num + 1), **links}
        return Response(
            envelope(
                meta={"resource_count": len(page), "available_filters": s.AVAILABLE_FILTERS},
                links=links,
                data={"receivables": [render_receivable(inv, tz, lines=False) for inv in page]},
            )
        )

    def retrieve(self, request, *args, **kwargs):
        all_tags = request.query_params.get("allTags", "n")
        if all_tags not in ("y", "n"):
            raise serializers.ValidationError({"allTags": ["Must be y or n."]})
        invoice = self.get_object()
        tags = list(invoice.customer.tags.order_by("name")) if all_tags == "y" else None
        tz = _tz(self.organization)
        return Response(
            envelope(
                meta={"resource_count": 1},
                links={"self": f"{LINK_BASE}/{invoice.aplos_id}"},
                data={"receivable": render_receivable(invoice, tz, tags=tags)},
            )
        )

    def create(self, request, *args, **kwargs):
        data = self._input(s.AplosReceivableInput)
        invoice = aplos_receivable_create(organization=self.organization, data=data)
        return self._detail(
            invoice, message=f"posted: {invoice.aplos_id}", modified=False, received=False
        )

    def update(self, request, *args, **kwargs):
        invoice = self.get_object()
        data = self._input(s.AplosReceivablePutInput)
        invoice = aplos_receivable_put(invoice=invoice, data=data)
        return self._detail(invoice, message=f"put: {invoice.aplos_id}", received=False)

    def destroy(self, request, *args, **kwargs):
        invoice = self.get_object()
        aplos_id = invoice.aplos_id
        services.invoice_delete(invoice=invoice)
        return Response(envelope(message=f"deleted: {aplos_id}"))

    @extend_schema(
        operation_id="aplos_receivables_receive",
        summary="Receive a receivable's whole open balance",
        description="Record the whole open balance as received (an offline payment).",
        parameters=[ACCOUNT_HEADER],
        request=s.AplosReceiveInput,
        responses={200: s.AplosDetailResponse},
    )
    @action(detail=True, methods=["put"], url_path="receive")
    def receive(self, request, *args, **kwargs):
        invoice = self.get_object()
        data = self._input(s.AplosReceiveInput)
        invoice = aplos_receivable_receive(invoice=invoice, data=data)
        return self._detail(invoice, message=f"received: {invoice.aplos_id}")
