"""A customer's on-account credit: the "Credit" panel of the customer page (loaded by htmx;
customers sits below payments) with, for each payment's credit, an "Apply to invoice" and a
"Refund" form. Each form posts here: an htmx post answers the panel again (with the errors
next to the fields, or what was done); a plain post goes back to the customer page, or shows
the panel with the errors."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from arpilot.errors import ApplicationError
from arpilot.workspace import (
    base_template,
    is_htmx,
    org_object_or_404,
    organization_today,
    workspace_view,
)
from customers.models import Customer
from payments.forms import parse_money
from payments.services import credit
from receivables.models import Invoice

PANEL_INVOICES = 200  # open invoices offered in an apply form


class ApplyCreditForm(forms.Form):
    """Apply a payment's credit to an open invoice of the customer (blank amount: as much as
    the invoice owes and the credit reaches)."""

    invoice_id = forms.UUIDField(
        label="Invoice", error_messages={"required": "Choose an open invoice."}
    )
    amount = forms.CharField(label="Amount", required=False, max_length=40)

    def clean_amount(self):
        text = (self.cleaned_data.get("amount") or "").strip()
        return parse_money(text) if text else None


class RefundCreditForm(forms.Form):
    """Pay (part of) a payment's credit back to the customer."""

    amount = forms.CharField(label="Amount", max_length=40)
    method = forms.CharField(label="Method", required=False, max_length=100)
    reference = forms.CharField(label="Reference", required=False, max_length=255)
    date = forms.DateField(label="Date", required=False)

    def clean_amount(self):
        return parse_money(self.cleaned_data["amount"])


def _open_invoices(organization, customer) -> list:
    return list(
        Invoice.objects.for_org(organization)
        .open()
        .filter(customer_id=customer.pk, amount_due__gt=0)
        .only("pk", "invoice_number", "currency", "amount_due", "due_date")
        .order_by("due_date", "invoice_number", "id")[:PANEL_INVOICES]
    )


def _panel(request, customer, *, failed=None, done: str = "", status: int = 200):
    """The panel; ``failed``: (kind, payment id, form) of a refused post, shown in place."""
    organization = request.organization
    rows = credit.customer_credit(organization=organization, customer=customer)
    invoices = _open_invoices(organization, customer)
    for row in rows:
        row.invoices = [invoice for invoice in invoices if invoice.currency == row.currency]
        for payment in row.payments:
            payment.apply_form = ApplyCreditForm(prefix=f"apply-{payment.pk}")
            payment.refund_form = RefundCreditForm(
                prefix=f"refund-{payment.pk}",
                initial={"amount": payment.remaining, "date": organization_today(organization)},
            )
            if failed and failed[1] == payment.pk:
                setattr(payment, f"{failed[0]}_form", failed[2])
    return render(
        request,
        "payments/customer_credit_panel.html",
        {
            "customer": customer,
            "credit": rows,
            "done": done,
            "base_template": base_template(request),
        },
        status=status,
    )


@workspace_view
def customer_credit_panel(request, customer_id):
    customer = org_object_or_404(Customer.objects.for_org(request.organization), pk=customer_id)
    return _panel(request, customer)


def _refused(form: forms.Form, exc: ApplicationError) -> None:
    """Put the service's refusal next to the fields it names (the rest above the form)."""
    placed = False
    for name, texts in exc.fields.items():
        if name in form.fields:
            for text in texts:
                form.add_error(name, text)
            placed = True
    if not placed:
        form.add_error(None, exc.message)


def _after(request, customer, text: str):
    if is_htmx(request):
        return _panel(request, customer, done=text)
    messages.success(request, text)
    return redirect(reverse("customers:detail", args=[customer.pk]) + "#credit-title")


@require_POST
@workspace_view
def credit_apply(request, customer_id, payment_id: uuid.UUID):
    customer = org_object_or_404(Customer.objects.for_org(request.organization), pk=customer_id)
    form = ApplyCreditForm(request.POST, prefix=f"apply-{payment_id}")
    if form.is_valid():
        try:
            credit.credit_apply(
                organization=request.organization,
                customer_id=customer.pk,
                payment_id=payment_id,
                invoice_id=form.cleaned_data["invoice_id"],
                amount=form.cleaned_data["amount"],
            )
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            return _after(request, customer, "Credit applied to the invoice.")
    return _panel(request, customer, failed=("apply", payment_id, form))


@require_POST
@workspace_view
def credit_refund(request, customer_id, payment_id: uuid.UUID):
    customer = org_object_or_404(Customer.objects.for_org(request.organization), pk=customer_id)
    form = RefundCreditForm(request.POST, prefix=f"refund-{payment_id}")
    if form.is_valid():
        try:
            refund = credit.credit_refund(
                organization=request.organization,
                customer_id=customer.pk,
                payment_id=payment_id,
                amount=form.cleaned_data["amount"],
                refund_date=form.cleaned_data["date"],
                method=form.cleaned_data["method"],
                reference=form.cleaned_data["reference"],
            )
        except ApplicationError as exc:
            _refused(form, exc)
        else:
            text = f"Refund of {refund.amount} {refund.currency} recorded; it awaits approval."
            return _after(request, customer, text)
    return _panel(request, customer, failed=("refund", payment_id, form))
