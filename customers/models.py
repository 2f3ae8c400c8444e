from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower

from arpilot.models import OrgScopedModel


class Customer(OrgScopedModel):
    company_name = models.CharField(max_length=255)
    external_id = models.CharField(
        max_length=100, blank=True, default="", help_text="The organization's own customer ID"
    )
    address = models.TextField(blank=True, default="")
    timezone = models.CharField(max_length=64, default="UTC", help_text="IANA timezone")
    tags = models.ManyToManyField(
        "customers.Tag", through="customers.CustomerTag", related_name="customers"
    )

    class Meta:
        ordering = ["company_name", "id"]
        indexes = [
            models.Index(fields=["organization", "company_name"]),
        ]
        constraints = [
            models.UniqueConstraint(
                fields=["organization", "external_id"],
                condition=~Q(external_id=""),
                name="customer_external_id_unique",
            ),
        ]

    def __str__(self) -> str:
        return self.company_name


class Contact(OrgScopedModel):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="contacts")
    contact_name = models.CharField(max_length=255)
    email = models.EmailField(max_length=254, blank=True, default="")
    phone = models.CharField(max_length=40, blank=True, default="")
    phone_type = models.CharField(max_length=20, blank=True, default="")
    phone_secondary = models.CharField(max_length=40, blank=True, default="")
    phone_type_secondary = models.CharField(max_length=20, blank=True, default="")
    is_primary = models.BooleanField(default=False)
    escalation_level = models.PositiveSmallIntegerField(default=1)
    title = models.CharField(max_length=120, blank=True, default="")
    notes = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["escalation_level", "contact_name", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["customer"],
                condition=Q(is_primary=True),
                name="contact_one_primary",
            ),
        ]

    def __str__(self) -> str:
        return self.contact_name


class Tag(OrgScopedModel):
    name = models.CharField(max_length=64)
    color = models.CharField(max_length=7, default="#6B7280")

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.UniqueConstraint(Lower("name"), "organization", name="tag_name_unique_ci"),
        ]

    def __str__(self) -> str:
        return self.name


class CustomerTag(models.Model):
    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="+")
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["customer", "tag"], name="customer_tag_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.customer_id}:{self.tag_id}"
