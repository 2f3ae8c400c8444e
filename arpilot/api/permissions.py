from rest_framework.permissions import BasePermission

from arpilot.models import OrganizationAPIKey


class HasOrganization(BasePermission):
    """The request carries a valid API key, and so an organization."""

    def has_permission(self, request, view) -> bool:
        return isinstance(request.auth, OrganizationAPIKey)
