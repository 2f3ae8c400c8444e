from rest_framework import authentication, exceptions

from arpilot.models import OrganizationAPIKey


class ApiKeyAuthentication(authentication.BaseAuthentication):
    """``Authorization: Bearer arp_…``; sets ``request.auth`` to the key and
    ``request.organization`` to its organization."""

    keyword = "Bearer"

    def authenticate(self, request):
        header = authentication.get_authorization_header(request).decode("latin-1").strip()
        if not header:
            return None
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower() or not key.strip():
            raise exceptions.AuthenticationFailed("Use 'Authorization: Bearer <api key>'.")
        key = key.strip()
        try:
            api_key = OrganizationAPIKey.objects.get_from_key(key)
        except OrganizationAPIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        request._request.organization = api_key.organization
        request._request.api_key = api_key  # the actor of this request (arpilot.actors)
        return (None, api_key)

    def authenticate_header(self, request):
        return self.keyword
