"""Remittance advice as stored: the advice, the payment it was linked to, and its lines with
the invoice each names (imported by ``payments.models``, whose app they belong to)."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from arpilot.models import OrgScopedModel
from arpilot.money import ZERO, money_field


class Remittance(OrgScopedModel):
    class Status(models.TextChoices):
        UNLINKED = "unlinked", "Waiting for its payment"
        REVIEW = "review", "Needs a clerk"
        APPLIED = "applied", "Applied"

    class Format(models.TextChoices):
        CSV = "csv", "CSV"
        CAMT053 = "camt053", "CAMT.053"
        TEXT = "text", "Text"

    format = models.CharField(max_length=10, choices=Format.choices)
    filename = models.CharField(max_length=255, blank=True, default="")
    content = models.TextField(help_text="The advice as received (decoded text)")
    payer_name = models.CharField(max_length=255, blank=True, default="")
    payment_reference = models.CharField(max_length=1000, blank=True, default="")
    payment = models.ForeignKey(
        "payments.Payment",
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="remittances",
    )
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.UNLINKED)
    total = money_field(default=ZERO)
    reason = models.CharField(max_length=500, blank=True, default="")
    rejected = models.JSONField(default=list, blank=True, help_text="[[line, reason]]")

    class Meta:
        ordering = ["-created_at"]
        indexes = [
            models.Index(fields=["organization", "status", "-created_at"], name="remittance_status")
        ]

    def __str__(self) -> str:
        return f"remittance {self.format} {self.total} ({self.status})"


class RemittanceLine(models.Model):
    class Status(models.TextChoices):
        MATCHED = "matched", "Invoice found"
        UNKNOWN = "unknown", "No open invoice of that number"
        APPLIED = "applied", "Applied"
        REVIEW = "review", "Needs a clerk"

    id = models.BigAutoField(primary_key=True)
    remittance = models.ForeignKey(Remittance, on_delete=models.CASCADE, related_name="lines")
    line_number = models.PositiveIntegerField()
    reference = models.CharField(max_length=255)
    amount = money_field(null=True, blank=True)
    deduction = money_field(default=ZERO)
    deduction_reason = models.CharField(max_length=255, blank=True, default="")
    invoice = models.ForeignKey(
        "receivables.Invoice", on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    status = models.CharField(max_length=10, choices=Status.choices)
    message = models.CharField(max_length=500, blank=True, default="")

    class Meta:
        ordering = ["line_number", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(amount__isnull=True) | Q(amount__gte=0), name="remittance_line_amount"
            ),
            models.CheckConstraint(condition=Q(deduction__gte=0), name="remittance_line_deduction"),
        ]

    def __str__(self) -> str:
        return f"{self.reference} {self.amount}"
