"""Matching rules over the API: ``/api/v1/match-rules`` (list, create), ``/{id}`` (get,
change, delete) and ``/{id}/test`` (try a rule on a payment or on payment facts)."""

import django_filters
from django.urls import path
from drf_spectacular.utils import extend_schema, extend_schema_field
from rest_framework import serializers, status
from rest_framework.decorators import action
from rest_framework.response import Response

from arpilot.api.fields import MoneyField, money_out
from arpilot.api.filtering import FilterSet
from arpilot.api.views import ListModelMixin, OrgScopedViewSet, RetrieveModelMixin
from payments.rule_models import MatchRule
from payments.services import rules


class MatchRuleFilterSet(FilterSet):
    active = django_filters.BooleanFilter(help_text="Only active (true) or inactive (false) rules")

    class Meta:
        model = MatchRule
        fields = ["active"]


@extend_schema_field(
    {
        "type": "string",
        "description": "`assign_customer`, `point_to_invoice`, `write_off` or `review` (as in "
        "`MatchRule.action`)",
    }
)
class RuleActionInput(serializers.ChoiceField):
    """A rule's action in a request (plain text in the schema: the enum is documented once,
    on ``MatchRule``, so the enum names do not collide)."""

    def __init__(self, **kwargs):
        super().__init__(choices=MatchRule.Action.choices, **kwargs)


class MatchRuleSerializer(serializers.ModelSerializer):
    amount_min = money_out(allow_null=True, help_text="The amount is at least this")
    amount_max = money_out(allow_null=True, help_text="The amount is at most this")
    write_off_tolerance = money_out(help_text="write_off: the largest difference written off")
    customer_id = serializers.UUIDField(allow_null=True, read_only=True)
    customer_name = serializers.SerializerMethodField()
    write_off_account_id = serializers.UUIDField(allow_null=True, read_only=True)
    write_off_account_number = serializers.SerializerMethodField()
    action = serializers.ChoiceField(choices=MatchRule.Action.choices, read_only=True)

    class Meta:
        model = MatchRule
        fields = [
            "id",
            "name",
            "sequence",
            "active",
            "payer_contains",
            "payer_regex",
            "reference_regex",
            "amount_min",
            "amount_max",
            "currency",
            "action",
            "customer_id",
            "customer_name",
            "write_off_account_id",
            "write_off_account_number",
            "write_off_tolerance",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    def get_customer_name(self, rule) -> str | None:
        return rule.customer.company_name if rule.customer_id else None

    def get_write_off_account_number(self, rule) -> int | None:
        account = rule.write_off_account if rule.write_off_account_id else None
        return account.account_number if account is not None else None


class MatchRuleInput(serializers.Serializer):
    name = serializers.CharField(max_length=100, help_text="Unique in the organization")
    sequence = serializers.IntegerField(
        required=False, min_value=0, max_value=2**31 - 1, help_text="Lower runs first (10)"
    )
    active = serializers.BooleanField(required=False, help_text="Default true")
    payer_contains = serializers.CharField(
        required=False, allow_blank=True, max_length=255, help_text="Payer name contains (any case)"
    )
    payer_regex = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=300,
        help_text="Payer name matches this regular expression (searched, any case)",
    )
    reference_regex = serializers.CharField(
        required=False,
        allow_blank=True,
        trim_whitespace=False,
        max_length=300,
        help_text="Reference matches this regular expression (searched, any case); a named "
        "group `invoice` or `customer` (`(?P<invoice>INV-\\d+)`) captures the invoice "
        "number or the customer's id",
    )
    amount_min = MoneyField(places=3, required=False, allow_null=True, help_text="At least")
    amount_max = MoneyField(places=3, required=False, allow_null=True, help_text="At most")
    currency = serializers.CharField(
        required=False, allow_blank=True, max_length=3, help_text="ISO 4217; blank: any"
    )
    action = RuleActionInput(
        help_text="`assign_customer` (needs `customer_id`), `point_to_invoice` (needs a "
        "capture group), `write_off` (needs `write_off_tolerance`), `review`",
    )
    customer_id = serializers.CharField(
        required=False, allow_null=True, allow_blank=True, help_text="assign_customer: the customer"
    )
    write_off_account_id = serializers.CharField(
        required=False,
        allow_null=True,
        allow_blank=True,
        help_text="write_off: an expense account (else the organization's write-off account)",
    )
    write_off_tolerance = MoneyField(
        places=3, required=False, help_text="write_off: the largest difference written off"
    )


class MatchRuleTestInput(serializers.Serializer):
    payment_id = serializers.UUIDField(
        required=False, help_text="A payment of yours; or give the facts below"
    )
    payer_name = serializers.CharField(required=False, allow_blank=True, max_length=255)
    reference = serializers.CharField(
        required=False, allow_blank=True, max_length=1000, trim_whitespace=False
    )
    amount = MoneyField(places=3, required=False, allow_null=True)
    currency = serializers.CharField(required=False, allow_blank=True, max_length=3)

    def validate(self, attrs):
        facts = {"payer_name", "reference", "amount", "currency"} & set(attrs)
        if "payment_id" not in attrs and not facts:
            raise serializers.ValidationError(
                {"payment_id": ["Send payment_id, or payer_name / reference / amount / currency."]}
            )
        return attrs


class MatchRuleTestSerializer(serializers.Serializer):
    matches = serializers.BooleanField(help_text="Whether every condition holds")
    action = RuleActionInput()
    explanation = serializers.CharField(help_text="Why it does not match, or what it would do")
    captured = serializers.DictField(
        child=serializers.CharField(), help_text="What the reference's groups captured"
    )
    invoice_id = serializers.UUIDField(allow_null=True, help_text="The invoice it points to")
    invoice_number = serializers.CharField(allow_null=True)
    customer_id = serializers.UUIDField(allow_null=True, help_text="The customer it points to")
    customer_name = serializers.CharField(allow_null=True)
    first_matching_rule = serializers.CharField(
        allow_null=True,
        help_text="The active rule that decides for this payment (the first that matches)",
    )


def _trial_body(trial) -> dict:
    return {
        "matches": trial.matches,
        "action": trial.action,
        "explanation": trial.reason,
        "captured": trial.captured,
        "invoice_id": trial.invoice.pk if trial.invoice else None,
        "invoice_number": trial.invoice.invoice_number if trial.invoice else None,
        "customer_id": trial.customer.pk if trial.customer else None,
        "customer_name": trial.customer.company_name if trial.customer else None,
        "first_matching_rule": trial.first_matching_rule,
    }


class MatchRuleViewSet(ListModelMixin, RetrieveModelMixin, OrgScopedViewSet):
    """Matching rules: conditions on a payment's payer, reference, amount and currency, and
    what to do when they hold. Active rules are tried in `sequence` order before scoring;
    the first that matches wins. A rule never makes matching auto-apply what the
    auto-apply policy would refuse."""

    schema_docs = {
        "list": ("List matching rules", "In evaluation order (`sequence`, then name)."),
        "retrieve": ("Get a matching rule", ""),
        "create": (
            "Create a matching rule",
            "Conditions (all those given must hold): `payer_contains`, `payer_regex`, "
            "`reference_regex` (may capture `invoice` or `customer`), `amount_min`, "
            "`amount_max`, `currency`. Patterns are refused (400 naming the field) when they do "
            "not compile, name another group, nest unbounded repeats or use back-references. "
            "A name already used is a 400 naming `name`.",
        ),
        "partial_update": (
            "Change a matching rule",
            "Only the fields sent change; the whole rule is checked again.",
        ),
        "update": ("Change a matching rule", "Same as PATCH."),
        "destroy": ("Delete a matching rule", ""),
    }
    serializer_class = MatchRuleSerializer
    input_serializers = {
        "create": MatchRuleInput,
        "partial_update": MatchRuleInput,
        "update": MatchRuleInput,
        "test": MatchRuleTestInput,
    }
    filterset_class = MatchRuleFilterSet
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    def scoped_queryset(self, organization):
        return rules.rule_list(organization=organization)

    def create(self, request):
        rule = rules.rule_create(organization=self.organization, **self.get_input())
        return self.respond(self.reload(rule), status=status.HTTP_201_CREATED)

    def partial_update(self, request, pk=None):
        data = self.get_input(partial=True)
        rule = rules.rule_update(organization=self.organization, rule_id=self.get_url_pk(), **data)
        return self.respond(rule)

    update = partial_update

    def destroy(self, request, pk=None):
        rules.rule_delete(organization=self.organization, rule_id=self.get_url_pk())
        return Response({"success": True})

    @extend_schema(
        request=MatchRuleTestInput,
        responses={200: MatchRuleTestSerializer},
        summary="Try a matching rule",
        description="Whether the rule matches a payment (`payment_id`) or payment facts "
        "(`payer_name`, `reference`, `amount`, `currency`), what its reference pattern "
        "captures and what it would do; inactive rules may be tried too. Nothing changes. "
        "400 naming `payment_id` for a payment that is not yours.",
    )
    @action(detail=True, methods=["post"])
    def test(self, request, pk=None):
        data = self.get_input()
        trial = rules.rule_test(
            organization=self.organization,
            rule_id=self.get_url_pk(),
            payment_id=data.get("payment_id"),
            facts=data,
        )
        return Response({"data": _trial_body(trial)})


_list = MatchRuleViewSet.as_view({"get": "list", "post": "create"})
_detail = MatchRuleViewSet.as_view(
    {"get": "retrieve", "patch": "partial_update", "put": "update", "delete": "destroy"}
)
urlpatterns = [
    path("match-rules", _list, name="match-rule-list"),
    path("match-rules/<str:pk>", _detail, name="match-rule-detail"),
    path(
        "match-rules/<str:pk>/test",
        MatchRuleViewSet.as_view({"post": "test"}),
        name="match-rule-test",
    ),
]
