"""The Jinja2 environment of the few templates rendered many times per page.

Jinja2 compiles a template to Python code; Django's template language interprets its node
tree on every render. The review queue renders one row per payment (50 a page), and in
Django templates those rows were most of the page's time. Autoescaping is on (Django's
Jinja2 backend sets it), and Django's safe strings (``format_html``) are respected.
"""

from jinja2 import Environment, StrictUndefined

from arpilot.templatetags.money import money_in, money_text_in


def environment(**options) -> Environment:
    options.setdefault("undefined", StrictUndefined)
    options.pop("autoescape", None)  # always on, whatever the settings say
    env = Environment(autoescape=True, **options)
    env.filters.update(money_in=money_in, money_text_in=money_text_in)
    return env
