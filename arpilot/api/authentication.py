from rest_framework import authentication, exceptions

from arpilot.compiled import CompiledInstances, Slot
from arpilot.models import Organization, OrganizationAPIKey

# ``OrganizationAPIKey.objects.get_from_key(key)`` with its statement compiled once
# (``arpilot.compiled``): the same single statement (the usable key by its prefix, joined to
# its organization; the ORM's own SQL), the same hash check after it, without building and
# compiling a queryset on every request (~1 ms of CPU of each API request went there; this
# takes ~0.25 ms). Nothing is remembered between requests: a revoked key is refused at once.
_USABLE_KEY = CompiledInstances(
    OrganizationAPIKey,
    lambda prefix: OrganizationAPIKey.objects.get_usable_keys().filter(prefix__eq=prefix),
    Slot("prefix"),
    related=(("organization", Organization),),
    limit=2,
)


def api_key_from_key(key: str) -> OrganizationAPIKey:
    """The usable API key ``key`` (not revoked, its hash verified), with its organization
    loaded; ``OrganizationAPIKey.DoesNotExist`` otherwise. Expiry is the caller's check."""
    prefix, _, _ = key.partition(".")
    found = _USABLE_KEY.get(prefix=prefix)
    if len(found) != 1:  # prefix is unique: none, or (never) two
        raise OrganizationAPIKey.DoesNotExist("No usable key with this prefix.")
    api_key = found[0]
    if not api_key.is_valid(key):  # the sha512 of the whole key against the stored one
        raise OrganizationAPIKey.DoesNotExist("Key is not valid.")
    return api_key


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
            api_key = api_key_from_key(key)
        except OrganizationAPIKey.DoesNotExist:
            raise exceptions.AuthenticationFailed("Invalid or revoked API key.") from None
        if api_key.has_expired:
            raise exceptions.AuthenticationFailed("This API key has expired.")
        request._request.organization = api_key.organization
        request._request.api_key = api_key  # the actor of this request (arpilot.actors)
        return (None, api_key)

    def authenticate_header(self, request):
        return self.keyword
