from django.apps import AppConfig


class DemoConfig(AppConfig):
    """Demo data for a newcomer's first run: above every domain app, which it seeds through
    their services (so arpilot/, the base, imports none of them)."""

    name = "demo"
    verbose_name = "Demo data"
