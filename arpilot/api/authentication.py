import threading

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from rest_framework import authentication, exceptions

from arpilot.models import Organization, OrganizationAPIKey

_SENTINEL = "\x00prefix"  # stands for the prefix while the statement is compiled


class _KeyLookup:
    """``OrganizationAPIKey.objects.get_from_key(key)`` with its statement compiled once per
    thread and database: the same single statement (the usable key by its prefix, joined to
    its organization; the ORM's own SQL), the same hash check after it, without building and
    compiling a queryset on every request (~1 ms of CPU of each API request went there; this
    takes ~0.25 ms). Values go through the backend's converters (SQLite's datetimes and
    booleans), so the instances are those the ORM would build."""

    def __init__(self, alias: str) -> None:
        self.alias = alias
        self.connection = connections[alias]
        # The ORM's own statement for get_usable_keys().get(prefix=…), compiled once.
        queryset = OrganizationAPIKey.objects.get_usable_keys().filter(prefix=_SENTINEL)[:2]
        self.compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = self.compiler.as_sql()
        self.params = list(params)
        self.prefix_at = self.params.index(_SENTINEL)
        columns = [column for column, _, _ in self.compiler.select]
        self.key_fields = [f.attname for f in OrganizationAPIKey._meta.concrete_fields]
        self.org_fields = [f.attname for f in Organization._meta.concrete_fields]
        selected = [(c.target.model, c.target.attname) for c in columns]
        expected = [(OrganizationAPIKey, name) for name in self.key_fields] + [
            (Organization, name) for name in self.org_fields
        ]
        if selected != expected:  # never with today's models: the ORM's order, checked
            raise ImproperlyConfigured(f"API key lookup: unexpected columns {selected}")
        self.converters = self.compiler.get_converters(columns)

    def get(self, key: str) -> OrganizationAPIKey:
        """The usable key ``key`` with its organization; DoesNotExist as get_from_key."""
        prefix, _, _ = key.partition(".")
        params = list(self.params)
        params[self.prefix_at] = prefix
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if len(rows) != 1:  # prefix is unique: none, or (never) two
            raise OrganizationAPIKey.DoesNotExist("No usable key with this prefix.")
        if self.converters:
            rows = list(self.compiler.apply_converters(rows, self.converters))
        row = rows[0]
        split = len(self.key_fields)
        api_key = OrganizationAPIKey.from_db(self.alias, self.key_fields, row[:split])
        api_key.organization = Organization.from_db(self.alias, self.org_fields, row[split:])
        if not api_key.is_valid(key):  # the sha512 of the whole key against the stored one
            raise OrganizationAPIKey.DoesNotExist("Key is not valid.")
        return api_key


_lookups = threading.local()  # per thread, as connections are: {alias: _KeyLookup}


def api_key_from_key(key: str) -> OrganizationAPIKey:
    """The usable API key ``key`` (not revoked, its hash verified), with its organization
    loaded; ``OrganizationAPIKey.DoesNotExist`` otherwise. Expiry is the caller's check."""
    alias = OrganizationAPIKey.objects.db
    by_alias = getattr(_lookups, "by_alias", None)
    if by_alias is None:
        by_alias = _lookups.by_alias = {}
    lookup = by_alias.get(alias)
    if lookup is None or lookup.connection is not connections[alias]:
        lookup = by_alias[alias] = _KeyLookup(alias)
    return lookup.get(key)


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
