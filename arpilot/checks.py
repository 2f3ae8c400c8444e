"""Start-up checks of ARPilot's own settings."""

from django.conf import settings
from django.core.checks import Error, register
from django.utils.module_loading import import_string

from arpilot.hooks import EVENTS


@register()
def hook_receivers_resolve(app_configs, **kwargs) -> list[Error]:
    """Every ``ARPILOT_HOOK_RECEIVERS`` entry names a known event and importable callables."""
    errors = []
    for event_name, paths in settings.ARPILOT_HOOK_RECEIVERS.items():
        if event_name not in EVENTS:
            errors.append(
                Error(
                    f"ARPILOT_HOOK_RECEIVERS names an unknown event {event_name!r}.",
                    hint=f"Events: {', '.join(sorted(EVENTS))}.",
                    id="arpilot.E001",
                )
            )
        for path in paths:
            try:
                receiver = import_string(path)
            except ImportError as exc:
                errors.append(
                    Error(
                        f"The {event_name} receiver {path!r} does not resolve: {exc}",
                        id="arpilot.E002",
                    )
                )
                continue
            if not callable(receiver):
                errors.append(
                    Error(f"The {event_name} receiver {path!r} is not callable.", id="arpilot.E003")
                )
    return errors
