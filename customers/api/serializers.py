from rest_framework import serializers

from arpilot.api.fields import HexColorField, TimezoneField, aliased
from arpilot.api.schema import BareSerializer
from customers.models import Contact, Customer, Tag
from customers.rendering import contact_data, customer_data, tag_brief_data

SEED_ALIASES = {"/contacts": "contacts", "/tags": "tags"}


# --- output -----------------------------------------------------------------------------------
class ContactSerializer(serializers.ModelSerializer):
    customer_id = serializers.UUIDField(read_only=True)
    email = serializers.CharField(read_only=True, help_text="Email address; empty when none")

    class Meta:
        model = Contact
        fields = [
            "id",
            "customer_id",
            "contact_name",
            "email",
            "phone",
            "phone_type",
            "phone_secondary",
            "phone_type_secondary",
            "is_primary",
            "escalation_level",
            "title",
            "notes",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return contact_data(instance)  # the fields' own output, written out by hand

    def field_by_field(self, instance) -> dict:
        """DRF's rendering through the declared fields: what the hand-written one equals."""
        return super().to_representation(instance)


class TagBriefSerializer(serializers.ModelSerializer):
    class Meta:
        model = Tag
        fields = ["id", "name", "color"]
        read_only_fields = fields

    def to_representation(self, instance):
        return tag_brief_data(instance)

    def field_by_field(self, instance) -> dict:
        """DRF's rendering through the declared fields: what the hand-written one equals."""
        return super().to_representation(instance)


class CustomerSerializer(serializers.ModelSerializer):
    customer_id = serializers.CharField(
        source="external_id", read_only=True, help_text="Your external customer ID"
    )
    contacts = ContactSerializer(many=True, read_only=True)
    tags = TagBriefSerializer(many=True, read_only=True)

    class Meta:
        model = Customer
        fields = [
            "id",
            "company_name",
            "customer_id",
            "address",
            "timezone",
            "contacts",
            "tags",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def to_representation(self, instance):
        return customer_data(instance)

    def field_by_field(self, instance) -> dict:
        """DRF's rendering through the declared fields: what the hand-written one equals."""
        return super().to_representation(instance)


class TagSerializer(serializers.ModelSerializer):
    customer_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Tag
        fields = ["id", "name", "color", "customer_count", "created_at", "updated_at"]
        read_only_fields = fields


class TagDetailSerializer(TagSerializer):
    customer_ids = serializers.SerializerMethodField()

    class Meta(TagSerializer.Meta):
        fields = [*TagSerializer.Meta.fields, "customer_ids"]
        read_only_fields = fields

    def get_customer_ids(self, tag) -> list[str]:
        return [str(customer.pk) for customer in tag.customers.all()]


class AssignedSerializer(BareSerializer):
    assigned = serializers.IntegerField()


class CustomersUpdatedSerializer(BareSerializer):
    customers_updated = serializers.IntegerField()


# --- input ------------------------------------------------------------------------------------
class ContactFieldsInput(serializers.Serializer):
    contact_name = serializers.CharField(max_length=255)
    email = serializers.EmailField(max_length=254, required=False, allow_blank=True)
    phone = serializers.CharField(max_length=40, required=False, allow_blank=True)
    phone_type = serializers.CharField(max_length=20, required=False, allow_blank=True)
    phone_secondary = serializers.CharField(max_length=40, required=False, allow_blank=True)
    phone_type_secondary = serializers.CharField(max_length=20, required=False, allow_blank=True)
    is_primary = serializers.BooleanField(required=False)
    escalation_level = serializers.IntegerField(required=False, min_value=0, max_value=32767)
    title = serializers.CharField(max_length=120, required=False, allow_blank=True)
    notes = serializers.CharField(required=False, allow_blank=True, max_length=10000)


class ContactNestedCreateInput(ContactFieldsInput):
    """A contact given with a new customer: a name and an email or a phone."""


class ContactUpsertInput(ContactFieldsInput):
    """With ``id``: updates that contact; without: creates one (name and email/phone)."""

    id = serializers.UUIDField(required=False)
    contact_name = serializers.CharField(max_length=255, required=False)


class ContactCreateInput(ContactFieldsInput):
    customer_id = serializers.UUIDField()
    email = serializers.EmailField(max_length=254)


class ContactUpdateInput(ContactFieldsInput):
    contact_name = serializers.CharField(max_length=255, required=False)


class CustomerCreateInput(serializers.Serializer):
    company_name = serializers.CharField(max_length=255)
    contacts = ContactNestedCreateInput(
        many=True,
        allow_empty=False,
        help_text="At least one contact with contact_name and email or phone",
    )
    customer_id = serializers.CharField(
        max_length=100, required=False, allow_blank=True, help_text="Your external customer ID"
    )
    address = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    timezone = TimezoneField(required=False, help_text="IANA timezone")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=100,
        help_text="Tag names; created when new",
    )

    def to_internal_value(self, data):
        return super().to_internal_value(aliased(data, SEED_ALIASES))


class CustomerUpdateInput(serializers.Serializer):
    company_name = serializers.CharField(max_length=255, required=False)
    customer_id = serializers.CharField(max_length=100, required=False, allow_blank=True)
    address = serializers.CharField(required=False, allow_blank=True, max_length=2000)
    timezone = TimezoneField(required=False, help_text="IANA timezone")
    tags = serializers.ListField(
        child=serializers.CharField(max_length=64),
        required=False,
        max_length=100,
        help_text="Replaces all tags",
    )
    contacts = ContactUpsertInput(many=True, required=False, help_text="Upsert contacts by id")
    delete_contact_ids = serializers.ListField(child=serializers.UUIDField(), required=False)

    def to_internal_value(self, data):
        return super().to_internal_value(aliased(data, SEED_ALIASES))


class TagCreateInput(serializers.Serializer):
    name = serializers.CharField(max_length=64)
    color = HexColorField(required=False, help_text="#RRGGBB")


class TagUpdateInput(serializers.Serializer):
    name = serializers.CharField(max_length=64, required=False)
    color = HexColorField(required=False, help_text="#RRGGBB")


class CustomerIdsInput(serializers.Serializer):
    customer_ids = serializers.ListField(child=serializers.UUIDField(), max_length=1000)


class TagBulkInput(serializers.Serializer):
    customer_ids = serializers.ListField(child=serializers.UUIDField(), max_length=1000)
    add_tag_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=100
    )
    remove_tag_ids = serializers.ListField(
        child=serializers.UUIDField(), required=False, max_length=100
    )
