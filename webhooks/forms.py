"""The form an admin registers or changes a webhook endpoint with."""

from django import forms

from webhooks.events import ALL_EVENTS, EVENT_TYPES

BOTH_CHOSEN = "Tick either every event type or single event types, not both."
NONE_CHOSEN = "Choose every event type or at least one."


class EndpointForm(forms.Form):
    url = forms.URLField(label="Endpoint URL", max_length=2000, assume_scheme="https")
    description = forms.CharField(label="Description", max_length=500, required=False)
    all_events = forms.BooleanField(label="Every event type", required=False, initial=True)
    events = forms.MultipleChoiceField(
        label="Or only these event types",
        choices=[(name, name) for name in EVENT_TYPES if name != "webhook.test"],
        widget=forms.CheckboxSelectMultiple,
        required=False,
    )

    @classmethod
    def for_endpoint(cls, endpoint, data=None) -> "EndpointForm":
        """The form filled with ``endpoint``'s values (``data`` when posted)."""
        subscribes_to_all = ALL_EVENTS in endpoint.events
        initial = {
            "url": endpoint.url,
            "description": endpoint.description,
            "all_events": subscribes_to_all,
            "events": [] if subscribes_to_all else list(endpoint.events),
        }
        return cls(data, initial=initial)

    def clean(self):
        data = super().clean()
        if data.get("all_events") and data.get("events"):
            self.add_error("events", BOTH_CHOSEN)
        elif not data.get("all_events") and not data.get("events") and "events" not in self.errors:
            raise forms.ValidationError(NONE_CHOSEN)
        return data

    def chosen_events(self) -> list[str]:
        if self.cleaned_data["all_events"]:
            return [ALL_EVENTS]
        return list(self.cleaned_data["events"])
