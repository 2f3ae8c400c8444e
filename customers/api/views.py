from drf_spectacular.utils import extend_schema
from rest_framework.decorators import action
from rest_framework.response import Response

from arpilot.api.schema import SuccessSerializer
from arpilot.api.views import (
    DestroyModelMixin,
    ListModelMixin,
    OrgScopedViewSet,
    RetrieveModelMixin,
)
from arpilot.errors import NotFound
from customers import selectors, services
from customers.api import serializers as s
from customers.filters import ContactFilterSet, CustomerFilterSet


class CustomerViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    schema_docs = {
        "list": (
            "List customers",
            "Customers of your organization with their contacts and tags, paginated.",
        ),
        "create": (
            "Create a customer",
            "A customer with at least one contact (a name and an email or a phone). Tags "
            "are given by name and created when new. A `customer_id` already used by another "
            "customer is a 409 naming it in `error.existing_id`.",
        ),
        "retrieve": ("Get a customer", "One customer by id, with its contacts and tags."),
        "update": (
            "Update a customer",
            "Same as PATCH: only the fields sent change. `tags` replaces all tags; "
            "`contacts` updates contacts by `id` and adds those without one.",
        ),
        "partial_update": (
            "Update a customer",
            "Only the fields sent change. `tags` replaces all tags; `contacts` updates "
            "contacts by `id` and adds those without one; `delete_contact_ids` removes "
            "contacts.",
        ),
        "destroy": ("Delete a customer", "Delete a customer and its contacts."),
    }
    serializer_class = s.CustomerSerializer
    input_serializers = {
        "create": s.CustomerCreateInput,
        "update": s.CustomerUpdateInput,
        "partial_update": s.CustomerUpdateInput,
    }
    filterset_class = CustomerFilterSet

    def scoped_queryset(self, organization):
        return selectors.customer_list(organization=organization)

    def retrieve(self, request, pk=None):
        customer = selectors.customer_detail(organization=self.organization, pk=self.get_url_pk())
        if customer is None:
            raise NotFound("Not found.")
        return self.respond(customer)

    def create(self, request):
        data = self.get_input()
        customer = services.customer_create(
            organization=self.organization,
            company_name=data["company_name"],
            contacts=data["contacts"],
            external_id=data.get("customer_id", ""),
            address=data.get("address", ""),
            timezone=data.get("timezone"),
            tags=data.get("tags"),
        )
        return self.respond(self.reload(customer), status=201)

    def partial_update(self, request, pk=None):
        customer = self.get_object()
        data = self.get_input(partial=True)
        fields = {k: v for k, v in data.items() if k in {"company_name", "address", "timezone"}}
        if "customer_id" in data:
            fields["external_id"] = data["customer_id"]
        customer = services.customer_update(
            organization=self.organization,
            customer_id=customer.pk,
            fields=fields,
            tags=data.get("tags"),
            contacts=data.get("contacts"),
            delete_contact_ids=data.get("delete_contact_ids"),
        )
        return self.respond(self.reload(customer))

    update = partial_update

    def destroy(self, request, pk=None):
        customer = self.get_object()
        services.customer_delete(organization=self.organization, customer_id=customer.pk)
        return Response({"success": True})


class ContactViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    schema_docs = {
        "list": ("List contacts", "Contacts of all your customers, paginated."),
        "create": (
            "Create a contact",
            "Add a contact to a customer; `is_primary: true` makes it the customer's primary "
            "contact.",
        ),
        "retrieve": ("Get a contact", "One contact by id."),
        "update": ("Update a contact", "Same as PATCH: only the fields sent change."),
        "partial_update": ("Update a contact", "Only the fields sent change."),
        "destroy": ("Delete a contact", "Delete one contact of a customer."),
    }
    serializer_class = s.ContactSerializer
    input_serializers = {
        "create": s.ContactCreateInput,
        "update": s.ContactUpdateInput,
        "partial_update": s.ContactUpdateInput,
    }
    filterset_class = ContactFilterSet

    def scoped_queryset(self, organization):
        return selectors.contact_list(organization=organization)

    def create(self, request):
        data = dict(self.get_input())
        contact = services.contact_create(
            organization=self.organization,
            customer_id=data.pop("customer_id"),
            is_primary=data.pop("is_primary", False),
            **data,
        )
        return self.respond(contact, status=201)

    def partial_update(self, request, pk=None):
        contact = self.get_object()
        data = self.get_input(partial=True)
        contact = services.contact_update(
            organization=self.organization, contact_id=contact.pk, values=dict(data)
        )
        return self.respond(contact)

    update = partial_update

    def destroy(self, request, pk=None):
        contact = self.get_object()
        services.contact_delete(organization=self.organization, contact_id=contact.pk)
        return Response({"success": True})


class TagViewSet(RetrieveModelMixin, DestroyModelMixin, OrgScopedViewSet):
    schema_docs = {
        "list": ("List tags", "All tags of your organization with their customer counts."),
        "create": ("Create a tag", "A tag with a name, unique in your organization, and a color."),
        "retrieve": ("Get a tag", "One tag by id, with the ids of its customers."),
        "update": ("Update a tag", "Same as PATCH: only the fields sent change."),
        "partial_update": ("Update a tag", "Rename or recolor a tag."),
        "destroy": ("Delete a tag", "Delete a tag; its customers lose it."),
        "assign": ("Assign tag to customers", "Add this tag to the given customers."),
        "unassign": ("Remove tag from customers", "Take this tag off the given customers."),
        "bulk": (
            "Bulk update tags",
            "Add and remove tags on many customers at once.",
        ),
    }
    serializer_class = s.TagSerializer
    input_serializers = {
        "create": s.TagCreateInput,
        "update": s.TagUpdateInput,
        "partial_update": s.TagUpdateInput,
        "assign": s.CustomerIdsInput,
        "unassign": s.CustomerIdsInput,
        "bulk": s.TagBulkInput,
    }
    pagination_class = None

    def scoped_queryset(self, organization):
        if self.action == "retrieve":
            return selectors.tag_detail(organization=organization)
        return selectors.tag_list(organization=organization)

    def list(self, request):
        data = s.TagSerializer(self.get_queryset(), many=True).data
        return Response({"data": data})

    def retrieve(self, request, pk=None):
        return Response({"data": s.TagDetailSerializer(self.get_object()).data})

    def create(self, request):
        data = self.get_input()
        tag = services.tag_create(organization=self.organization, **data)
        return self.respond(self.reload(tag), status=201)

    def partial_update(self, request, pk=None):
        tag = self.get_object()
        data = self.get_input(partial=True)
        tag = services.tag_update(organization=self.organization, tag_id=tag.pk, **data)
        return self.respond(self.reload(tag))

    update = partial_update

    def perform_destroy(self, instance):
        services.tag_delete(organization=self.organization, tag_id=instance.pk)

    @extend_schema(
        request=s.CustomerIdsInput,
        responses={200: s.AssignedSerializer},
        summary="Assign tag to customers",
    )
    @action(detail=True, methods=["post"])
    def assign(self, request, pk=None):
        tag = self.get_object()
        data = self.get_input()
        assigned = services.tag_assign(
            organization=self.organization, tag_id=tag.pk, customer_ids=data["customer_ids"]
        )
        return Response({"assigned": assigned})

    @extend_schema(
        request=s.CustomerIdsInput,
        responses={200: SuccessSerializer},
        summary="Remove tag from customers",
    )
    @action(detail=True, methods=["post"])
    def unassign(self, request, pk=None):
        tag = self.get_object()
        data = self.get_input()
        services.tag_unassign(
            organization=self.organization, tag_id=tag.pk, customer_ids=data["customer_ids"]
        )
        return Response({"success": True})

    @extend_schema(
        request=s.TagBulkInput,
        responses={200: s.CustomersUpdatedSerializer},
        summary="Bulk update tags",
    )
    @action(detail=False, methods=["post"])
    def bulk(self, request):
        data = self.get_input()
        updated = services.tags_bulk_update(
            organization=self.organization,
            customer_ids=data["customer_ids"],
            add_tag_ids=data.get("add_tag_ids", []),
            remove_tag_ids=data.get("remove_tag_ids", []),
        )
        return Response({"customers_updated": updated})
