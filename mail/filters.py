import django_filters

from arpilot.api.filtering import FilterSet
from mail.models import OutboundEmail


class EmailFilterSet(FilterSet):
    status = django_filters.ChoiceFilter(choices=OutboundEmail.Status.choices)
    kind = django_filters.CharFilter()

    class Meta:
        model = OutboundEmail
        fields = ["status", "kind"]
