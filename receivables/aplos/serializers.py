"""The Aplos receivables face: request bodies, and response shapes for the OpenAPI document."""

from rest_framework import serializers

from arpilot.api.fields import MoneyField, money_in
from arpilot.money import MILL
from receivables.models import AplosContact

APLOS_VERSION = "v2_0_0"
AVAILABLE_FILTERS = {
    "f_accountnumber": "Account number of any line in the receivable",
    "f_amount": "Total amount of the receivable (always a positive number)",
    "f_contact": "Contact ID",
    "f_contactname": "Any part of any contact name (first, last, and/or company), case insensitive",
    "f_fund": "Fund ID",
    "f_note": "Any part of the note, case insensitive",
    "f_rangeend": "Maximum date range (inclusive). Format: yyyy-MM-dd",
    "f_rangestart": "Minimum date range (inclusive) Format: yyyy-MM-dd",
    "f_referencenum": "Reference number",
}

INT32 = {"min_value": 0, "max_value": 2147483647}
BIGINT = {"min_value": 1, "max_value": 2**63 - 1}


# --- request bodies ------------------------------------------------------------------------


class AplosAccountRefInput(serializers.Serializer):
    account_number = serializers.IntegerField(**INT32)


class AplosFundRefInput(serializers.Serializer):
    id = serializers.IntegerField(**BIGINT)


class AplosContactInput(serializers.Serializer):
    id = serializers.IntegerField(required=False, help_text="An existing contact", **BIGINT)
    companyname = serializers.CharField(
        max_length=255,
        required=False,
        help_text="Found by name (case-insensitive), or created as a new customer",
    )
    type = serializers.ChoiceField(choices=AplosContact.Type.choices, required=False)

    def validate(self, attrs):
        if "id" not in attrs and not attrs.get("companyname", "").strip():
            raise serializers.ValidationError(
                {"companyname": ["Give the contact's id or companyname."]}
            )
        return attrs


class AplosLineInput(serializers.Serializer):
    id = serializers.IntegerField(required=False, help_text="On put: the line to keep", **BIGINT)
    amount = money_in(currency_checked=True, min_value=MILL)
    note = serializers.CharField(
        max_length=500, required=False, allow_blank=True, help_text="Empty when left out"
    )
    account = AplosAccountRefInput(required=False, help_text="GL account (default 4000 revenue)")
    fund = AplosFundRefInput(required=False, help_text="Fund (default General Fund)")


class AplosReceivableInput(serializers.Serializer):
    bill_date = serializers.DateField(required=False, help_text="Defaults to today")
    due_date = serializers.DateField(required=False, help_text="Defaults to bill_date")
    reference_num = serializers.CharField(
        max_length=100, required=False, help_text="Unique; defaults to the receivable's id"
    )
    note = serializers.CharField(required=False, allow_blank=True)
    contact = AplosContactInput()
    asset_account = AplosAccountRefInput(
        required=False, help_text="Receivable (asset) account, default 1100"
    )
    lines = AplosLineInput(many=True, allow_empty=False, help_text="amount = sum of the lines")


class AplosReceivablePutInput(AplosReceivableInput):
    """Put: fields left out keep their value; ``lines``, when given, replace all lines."""

    contact = AplosContactInput(required=False)
    lines = AplosLineInput(many=True, allow_empty=False, required=False)


class AplosReceiveInput(serializers.Serializer):
    received_date = serializers.DateField(required=False, help_text="Defaults to today")
    cash_account = AplosAccountRefInput(required=False, help_text="Default 1000 Cash")


# --- responses (documentation of what receivables/aplos/views.py renders) --------------------


class AplosContactOut(serializers.Serializer):
    id = serializers.IntegerField()
    companyname = serializers.CharField()
    type = serializers.ChoiceField(choices=AplosContact.Type.choices)


class AplosAccountOut(serializers.Serializer):
    account_number = serializers.IntegerField()
    name = serializers.CharField()


class AplosFundOut(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()


class AplosLineOut(serializers.Serializer):
    id = serializers.IntegerField()
    note = serializers.CharField(allow_blank=True)
    amount = MoneyField(places=3)
    account = AplosAccountOut()
    fund = AplosFundOut()


class AplosTagOut(serializers.Serializer):
    id = serializers.UUIDField()
    name = serializers.CharField()


class AplosReceivableOut(serializers.Serializer):
    """A receivable. As in Aplos, the post reply has no ``modified`` and ``received``, the put
    reply no ``received``; lists carry no ``lines``; ``tags`` only with ``allTags=y``."""

    id = serializers.IntegerField()
    bill_date = serializers.DateField()
    due_date = serializers.DateField()
    reference_num = serializers.CharField()
    note = serializers.CharField(allow_blank=True)
    contact = AplosContactOut()
    created = serializers.CharField(help_text="e.g. 2014-12-31T01:23:45.678-0700")
    modified = serializers.CharField(required=False)
    amount = MoneyField(places=3)
    received = MoneyField(places=3, required=False, help_text="amount minus amount due")
    asset_account = AplosAccountOut()
    lines = AplosLineOut(many=True, required=False)
    tags = AplosTagOut(many=True, required=False, help_text="The contact's tags (allTags=y)")


class AplosMetaOut(serializers.Serializer):
    resource_count = serializers.IntegerField(help_text="Receivables in this reply")


class AplosListMetaOut(AplosMetaOut):
    available_filters = serializers.DictField(child=serializers.CharField())


class AplosLinksOut(serializers.Serializer):
    self = serializers.CharField(
        help_text="Path of this resource as this API serves it, relative to the server "
        "(`/hermes/api/v1/receivables/{id}`, or the list path with its query)"
    )


class AplosListLinksOut(AplosLinksOut):
    next = serializers.CharField(
        required=False,
        help_text="Path of the next page (`/hermes/api/v1/receivables?…`), served by this API; "
        "present when there is a next page",
    )


class AplosListDataOut(serializers.Serializer):
    receivables = AplosReceivableOut(many=True)


class AplosDetailDataOut(serializers.Serializer):
    receivable = AplosReceivableOut()


class AplosListResponse(serializers.Serializer):
    version = serializers.CharField()
    status = serializers.IntegerField()
    meta = AplosListMetaOut()
    links = AplosListLinksOut()
    data = AplosListDataOut()


class AplosDetailResponse(serializers.Serializer):
    version = serializers.CharField()
    message = serializers.CharField(required=False, help_text='e.g. "posted: 2"')
    status = serializers.IntegerField()
    meta = AplosMetaOut()
    links = AplosLinksOut()
    data = AplosDetailDataOut()


class AplosDeleteResponse(serializers.Serializer):
    version = serializers.CharField()
    message = serializers.CharField(help_text='"deleted: <id>"')
    status = serializers.IntegerField()
