"""Who is acting in this request: a signed-in user, an API key, or the system (tasks).

Services that must know who caused a change (maker-checker approval) read
``current_actor()``; ``ActorMiddleware`` makes the request the source for its duration, so
no service signature has to carry the user through every layer. Outside a request (Celery
tasks, the in-process scheduler, management commands) the actor is the system: ``None``.
"""

from __future__ import annotations

from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass

_request: ContextVar[object | None] = ContextVar("arpilot_request", default=None)
_acting: ContextVar[Actor | None] = ContextVar("arpilot_acting", default=None)


@dataclass(frozen=True)
class Actor:
    key: str  # stable identity: "user:<id>" or "api_key:<prefix>"
    name: str  # what people read: the user name, or the key's name


def actor_of(request) -> Actor | None:
    """The actor behind a Django request (after authentication), or None."""
    api_key = getattr(request, "api_key", None)
    if api_key is not None:
        return Actor(key=f"api_key:{api_key.prefix}", name=f"API key {api_key.name}")
    user = getattr(request, "user", None)
    if user is not None and user.is_authenticated:
        return Actor(key=f"user:{user.pk}", name=user.get_username())
    return None


def current_request():
    """The request being served (for request-scoped memos), or None outside a request."""
    return _request.get()


def current_actor() -> Actor | None:
    acting = _acting.get()
    if acting is not None:
        return acting
    request = _request.get()
    return actor_of(request) if request is not None else None


@contextmanager
def acting_as(user):
    """Act as ``user`` outside a request (a management command seeding the demo's notes);
    ``None`` leaves the actor as it is."""
    token = _acting.set(Actor(key=f"user:{user.pk}", name=user.get_username()) if user else None)
    try:
        yield
    finally:
        _acting.reset(token)


class ActorMiddleware:
    """Make each request the source of ``current_actor()`` while it is served."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        token = _request.set(request)
        try:
            return self.get_response(request)
        finally:
            _request.reset(token)
