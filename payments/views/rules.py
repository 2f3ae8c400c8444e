"""Matching rules, the clerk's pages: the list (in evaluation order), a new rule, edit one
(and try it on a payer name, reference and amount), delete one. The work is
``payments.services.rules``; its 400s are shown next to the fields they name."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from arpilot.errors import ApplicationError, ValidationFailed
from arpilot.workspace import workspace_view
from customers.models import Customer
from payments.rule_models import MatchRule
from payments.services import rules
from receivables.models import Account

CUSTOMER_CHOICES = 500  # customers offered for assign_customer (by name)

# The service's field names → the form's.
_FORM_FIELD = {"customer_id": "customer", "write_off_account_id": "write_off_account"}


class RuleForm(forms.Form):
    name = forms.CharField(label="Name", max_length=100)
    sequence = forms.IntegerField(
        label="Sequence", min_value=0, initial=10, help_text="Lower runs first."
    )
    active = forms.BooleanField(label="Active", required=False, initial=True)
    payer_contains = forms.CharField(label="Payer name contains", max_length=255, required=False)
    payer_regex = forms.CharField(
        label="Payer name pattern (regular expression)",
        max_length=300,
        required=False,
        strip=False,
    )
    reference_regex = forms.CharField(
        label="Reference pattern (regular expression)",
        max_length=300,
        required=False,
        strip=False,
        help_text="Capture the invoice number with (?P<invoice>…) or the customer's id with "
        "(?P<customer>…); any case.",
    )
    amount_min = forms.DecimalField(label="Amount at least", required=False, min_value=0)
    amount_max = forms.DecimalField(label="Amount at most", required=False, min_value=0)
    currency = forms.CharField(label="Currency", max_length=3, required=False)
    action = forms.ChoiceField(label="Then", choices=MatchRule.Action.choices)
    customer = forms.ChoiceField(label="Customer (assign a customer)", required=False)
    write_off_account = forms.ChoiceField(label="Write-off account (write off)", required=False)
    write_off_tolerance = forms.DecimalField(
        label="Write-off tolerance (write off)", required=False, min_value=0
    )

    def __init__(self, *args, organization, **kwargs):
        super().__init__(*args, **kwargs)
        customers = (
            Customer.objects.for_org(organization)
            .order_by("company_name")
            .values_list("pk", "company_name")[:CUSTOMER_CHOICES]
        )
        self.fields["customer"].choices = [("", "—")] + [(str(pk), n) for pk, n in customers]
        accounts = (
            Account.objects.for_org(organization)
            .filter(type=Account.Type.EXPENSE)
            .order_by("account_number")
            .values_list("pk", "account_number", "name")
        )
        self.fields["write_off_account"].choices = [
            ("", "The organization's write-off account")
        ] + [(str(pk), f"{number} {name}") for pk, number, name in accounts]

    def service_fields(self) -> dict:
        data = dict(self.cleaned_data)
        data["customer_id"] = data.pop("customer") or None
        data["write_off_account_id"] = data.pop("write_off_account") or None
        if data["write_off_tolerance"] is None:
            data.pop("write_off_tolerance")
        return data

    @classmethod
    def initial_of(cls, rule: MatchRule) -> dict:
        return {
            **{name: getattr(rule, name) for name in rules.RULE_FIELDS if hasattr(rule, name)},
            "customer": str(rule.customer_id or ""),
            "write_off_account": str(rule.write_off_account_id or ""),
        }


class TryForm(forms.Form):
    payer_name = forms.CharField(label="Payer name", max_length=255, required=False)
    reference = forms.CharField(label="Reference", max_length=1000, required=False, strip=False)
    amount = forms.DecimalField(label="Amount", required=False, min_value=0)
    currency = forms.CharField(label="Currency", max_length=3, required=False)


def _add_service_errors(form, exc: ValidationFailed) -> None:
    for field, errors in (exc.fields or {}).items():
        name = _FORM_FIELD.get(field, field)
        for error in errors:
            form.add_error(name if name in form.fields else None, error)
    if not exc.fields:
        form.add_error(None, exc.message)


@workspace_view
def rule_list(request):
    """The organization's rules in the order they are tried."""
    found = list(rules.rule_list(organization=request.organization))
    return render(request, "payments/rule_list.html", {"rules": found})


@workspace_view
def rule_new(request):
    organization = request.organization
    form = RuleForm(request.POST or None, organization=organization)
    if request.method == "POST" and form.is_valid():
        try:
            rule = rules.rule_create(organization=organization, **form.service_fields())
        except ValidationFailed as exc:
            _add_service_errors(form, exc)
        else:
            messages.success(request, f"Rule '{rule.name}' saved.")
            return redirect("payments:rules")
    return render(
        request,
        "payments/rule_form.html",
        {"form": form, "rule": None},
        status=400 if form.errors else 200,
    )


@workspace_view
def rule_edit(request, pk):
    """Change a rule; or (``action=try``) try it on a payer name, reference and amount."""
    organization = request.organization
    rule = _rule_or_404(organization, pk)
    form = RuleForm(initial=RuleForm.initial_of(rule), organization=organization)
    try_form, trial = TryForm(), None
    if request.method == "POST" and request.POST.get("do") == "try":
        try_form = TryForm(request.POST)
        if try_form.is_valid():
            trial = rules.rule_test(
                organization=organization, rule_id=rule.pk, facts=try_form.cleaned_data
            )
    elif request.method == "POST":
        form = RuleForm(request.POST, organization=organization)
        if form.is_valid():
            try:
                rule = rules.rule_update(
                    organization=organization, rule_id=rule.pk, **form.service_fields()
                )
            except ValidationFailed as exc:
                _add_service_errors(form, exc)
            else:
                messages.success(request, f"Rule '{rule.name}' saved.")
                return redirect("payments:rules")
    return render(
        request,
        "payments/rule_form.html",
        {"form": form, "rule": rule, "try_form": try_form, "trial": trial},
        status=400 if form.errors or try_form.errors else 200,
    )


@require_POST
@workspace_view
def rule_delete(request, pk):
    rule = _rule_or_404(request.organization, pk)
    rules.rule_delete(organization=request.organization, rule_id=rule.pk)
    messages.success(request, f"Rule '{rule.name}' deleted.")
    return redirect("payments:rules")


def _rule_or_404(organization, pk) -> MatchRule:
    from django.http import Http404

    try:
        return rules.rule_get(organization=organization, pk=pk)
    except ApplicationError as exc:
        raise Http404("Not found.") from exc
