"""Reminder templates: Django's template language from strings stored in the policy, in a
sandboxed engine (no loaders, no {% include %}/{% extends %}, no tag libraries to load);
autoescaping on for HTML, off for the subject and the plain text."""

from django.template import Context, Engine, Template, TemplateSyntaxError


class _SandboxEngine(Engine):
    # Without django.template.loader_tags: a stored template cannot read files or templates.
    default_builtins = ["django.template.defaulttags", "django.template.defaultfilters"]


_ENGINE_OPTIONS = {"dirs": [], "app_dirs": False, "loaders": [], "libraries": {}, "debug": False}
HTML_ENGINE = _SandboxEngine(autoescape=True, **_ENGINE_OPTIONS)
TEXT_ENGINE = _SandboxEngine(autoescape=False, **_ENGINE_OPTIONS)

TEMPLATE_FIELDS = {"subject": TEXT_ENGINE, "body_text": TEXT_ENGINE, "body_html": HTML_ENGINE}


def template_error(field: str, source: str) -> str | None:
    """Why ``source`` does not compile as the template of ``field``, or None."""
    try:
        TEMPLATE_FIELDS[field].from_string(source)
    except TemplateSyntaxError as exc:
        return f"Template syntax error: {exc}"
    return None


def compile_template(field: str, source: str) -> Template:
    """``source`` compiled as the template of ``field``: compile once, render many times
    (parsing costs more than rendering these short templates)."""
    return TEMPLATE_FIELDS[field].from_string(source)


def render_compiled(template: Template, context: dict) -> str:
    return template.render(Context(context, autoescape=template.engine.autoescape))


def render(field: str, source: str, context: dict) -> str:
    return render_compiled(compile_template(field, source), context)
