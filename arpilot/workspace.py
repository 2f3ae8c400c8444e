"""The clerk workspace's organization context.

A clerk signs in with Django auth and works in one organization at a time: the one stored in
the session among the clerk's memberships (the first by name when none is stored yet).
``workspace_view`` puts it on ``request.organization`` (one query, with the memberships the
switcher lists); every page reads through ``Model.objects.for_org(request.organization)``
and ``org_object_or_404`` so an object of another organization is a 404.
"""

from functools import wraps
from urllib.parse import quote

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.http import require_POST

from arpilot.models import Membership
from arpilot.timezones import today_in

SESSION_KEY = "arpilot_organization_id"


def _memberships(user) -> list[Membership]:
    return list(
        Membership.objects.filter(user=user)
        .select_related("organization")
        .order_by("organization__name", "organization_id")
    )


def organization_resolve(request):
    """The clerk's current organization (and all their memberships), or None; the membership
    in it (with the role) goes on ``request.membership``."""
    memberships = _memberships(request.user)
    request.memberships = memberships
    request.membership = None
    if not memberships:
        return None
    wanted = request.session.get(SESSION_KEY)
    current = next((m for m in memberships if m.organization_id == wanted), memberships[0])
    request.membership = current
    return current.organization


def is_admin(request) -> bool:
    """Whether the signed-in user is an admin of the current organization."""
    membership = getattr(request, "membership", None)
    return membership is not None and membership.role == Membership.Role.ADMIN


def admin_required(request) -> None:
    """Refuse (403) a clerk an action kept for the organization's admins: webhook endpoints,
    the sync target, API keys and members."""
    if not is_admin(request):
        raise PermissionDenied("Only an admin of this organization may do this.")


def workspace_view(view):
    """Sign-in required; sets ``request.organization`` from the session's choice."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not request.user.is_authenticated and is_htmx(request):
            # A partial update after the session ran out: send the whole page to sign-in.
            response = HttpResponse(status=204)
            response["HX-Redirect"] = f"{settings.LOGIN_URL}?next={quote(request.path)}"
            return response
        return _signed_in(request, *args, **kwargs)

    @login_required
    def _signed_in(request, *args, **kwargs):
        organization = organization_resolve(request)
        if organization is None:
            return TemplateResponse(request, "workspace/no_organization.html", status=403)
        request.organization = organization
        return view(request, *args, **kwargs)

    return wrapper


def org_object_or_404(queryset, **lookup):
    """The one object of an already org-scoped queryset, or 404 (also for a malformed id)."""
    if getattr(queryset, "_scoped_org_id", None) is None:
        raise RuntimeError("org_object_or_404 needs a queryset scoped with for_org()")
    try:
        return queryset.get(**lookup)
    except (queryset.model.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("Not found.") from exc


def is_htmx(request) -> bool:
    return request.headers.get("HX-Request") == "true"


def safe_next(request, fallback: str) -> str:
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return fallback


@require_POST
@login_required
def organization_switch(request):
    """Make another of the clerk's organizations the current one."""
    try:
        wanted = int(request.POST.get("organization", ""))
    except ValueError:
        return HttpResponse("Unknown organization.", status=400)
    if not Membership.objects.filter(user=request.user, organization_id=wanted).exists():
        raise Http404("Not a member of that organization.")
    request.session[SESSION_KEY] = wanted
    # Another organization's objects are 404 here: go back to a list page, not the detail.
    return redirect(safe_next(request, "/"))


def paginate(request, queryset, *, per_page: int = 50):
    """A page of ``queryset`` (a COUNT and the page's query), from ``?page=``."""
    from django.core.paginator import Paginator

    return Paginator(queryset, per_page).get_page(request.GET.get("page"))


def organization_today(organization):
    """Today's date in the organization's timezone (UTC if it is not a valid zone)."""
    return today_in(organization.timezone)


def base_template(request) -> str:
    """Panels come bare to htmx and inside the page layout to a plain link."""
    return "includes/fragment.html" if is_htmx(request) else "base.html"
