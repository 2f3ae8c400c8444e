"""Forms of the clerk's payment pages (they validate input; services do the work)."""

import uuid
from decimal import Decimal, InvalidOperation

from django import forms

MAX_MONEY = Decimal("999999999999.99")


def parse_money(raw: str, currency: str | None = None) -> Decimal:
    """A positive amount with at most two decimals, three in a three-place ``currency``
    (BHD, KWD, ...); ``1,250.50`` is accepted.

    Read by the bank-file amount parser, exactly or not at all: a decimal point; a comma
    only between thousands of a correctly grouped number. ``12,50`` is refused, never
    read as 1,250.00.
    """
    from payments.importers.money import AmountError, parse_amount

    text = (raw or "").strip()
    try:
        value, _currency = parse_amount(text, ".", currency=currency)
    except (AmountError, InvalidOperation) as exc:
        reason = str(exc)
        if "more than 2 decimal places" in reason:
            raise forms.ValidationError("At most two decimal places.") from exc
        if "more than 3 decimal places" in reason:
            raise forms.ValidationError("At most three decimal places.") from exc
        if "too large" in reason:
            raise forms.ValidationError("Too large.") from exc
        if reason.startswith("ambiguous amount"):
            raise forms.ValidationError(
                f"“{raw}” is ambiguous: use a decimal point (like 1250.50 or 1,250.50); "
                "a comma may only separate thousands."
            ) from exc
        raise forms.ValidationError(f"“{raw}” is not an amount.") from exc
    if value <= 0:
        raise forms.ValidationError("Must be greater than zero.")
    if value > MAX_MONEY:
        raise forms.ValidationError("Too large.")
    return value


class AllocationsForm(forms.Form):
    """A split of a payment over several invoices: repeated ``invoice_id`` and ``amount``
    fields (one pair per row), and whether to write off what the invoices still owe."""

    write_off_short_payment = forms.BooleanField(
        label="Write off the short-payment (within the tolerance)", required=False
    )

    def __init__(self, *args, currency: str | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.currency = currency

    def clean(self):
        data = super().clean()
        invoice_ids = self.data.getlist("invoice_id")
        amounts = self.data.getlist("amount")
        if len(invoice_ids) != len(amounts):
            raise forms.ValidationError("Each invoice needs an amount.")
        allocations = []
        errors = []
        seen = set()
        for index, (raw_id, raw_amount) in enumerate(zip(invoice_ids, amounts, strict=True)):
            try:
                invoice_id = uuid.UUID(raw_id)
            except ValueError:
                errors.append(f"Row {index + 1}: unknown invoice.")
                continue
            if invoice_id in seen:
                errors.append(f"Row {index + 1}: the invoice is listed twice.")
                continue
            seen.add(invoice_id)
            try:
                amount = parse_money(raw_amount, self.currency)
            except forms.ValidationError as exc:
                errors.append(f"Row {index + 1}: {' '.join(exc.messages)}")
                continue
            allocations.append({"invoice_id": invoice_id, "amount": amount})
        if errors:
            raise forms.ValidationError(errors)
        if not allocations and not data.get("write_off_short_payment"):
            raise forms.ValidationError("Add at least one invoice.")
        data["allocations"] = allocations
        return data


class ImportForm(forms.Form):
    file = forms.FileField(
        label="Bank file",
        help_text="CSV, OFX/QFX, BAI2, camt.053 XML or MT940, up to 50 MB",
    )


class PayerAliasForm(forms.Form):
    """A payer name to remember for a customer (named by its ID or exact name)."""

    payer_name = forms.CharField(
        label="Payer name, as the bank shows it",
        max_length=255,
        error_messages={"required": "Enter the payer's name."},
    )
    customer_ref = forms.CharField(
        label="Customer (ID or exact name)",
        max_length=255,
        error_messages={"required": "Name the customer."},
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        self.organization = organization

    def clean_customer_ref(self):
        from customers.models import Customer

        ref = self.cleaned_data["customer_ref"].strip()
        customers = Customer.objects.for_org(self.organization)
        found = list(customers.filter(external_id__iexact=ref)[:2]) or list(
            customers.filter(company_name__iexact=ref)[:2]
        )
        if not found:
            raise forms.ValidationError(f"No customer has the ID or name “{ref}”.")
        if len(found) > 1:
            raise forms.ValidationError(f"More than one customer is called “{ref}”: use the ID.")
        self.cleaned_data["customer"] = found[0]
        return ref

    def clean(self):
        data = super().clean()
        if "customer" in self.cleaned_data:
            data["customer"] = self.cleaned_data["customer"]
        return data
