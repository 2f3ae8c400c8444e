"""The demo's sign-in hint: the demo users and their password, shown only where the demo
runs (``settings.ARPILOT_DEMO``: on in development, never in production)."""

from django import template
from django.conf import settings

from demo.management.commands.seed_demo import CLERK_PASSWORD, CLERK_USERNAME

register = template.Library()


@register.inclusion_tag("demo/sign_in_hint.html")
def demo_sign_in_hint() -> dict:
    """The demo sign-in, or nothing outside the demo."""
    return {"demo": settings.ARPILOT_DEMO, "username": CLERK_USERNAME, "password": CLERK_PASSWORD}
