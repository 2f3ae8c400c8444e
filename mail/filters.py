import django_filters

from mail.models import OutboundEmail


class EmailFilterSet(django_filters.FilterSet):
    status = django_filters.ChoiceFilter(choices=OutboundEmail.Status.choices)
    kind = django_filters.CharFilter()

    class Meta:
        model = OutboundEmail
        fields = ["status", "kind"]
