"""Statements of the hot read paths compiled once, run many times.

Building and compiling a queryset costs 0.5 to 1.5 ms of Python per statement (``as_sql``,
``pre_sql_setup``, a lookup per value of an ``__in`` list), often more than the database
spends answering it. ``CompiledRows`` takes the ORM's own statement for a ``values_list``
queryset, compiled once per thread and database connection with placeholders standing for
its parameters, and runs it with new values: the same SQL, the rows through the backend's
converters (SQLite's datetimes, decimals and UUIDs), so the tuples are those the queryset
would give.

A list of values is one parameter (the ``any`` lookup: ``= ANY(%s)`` with an array on
PostgreSQL, UUIDs as one ``{…}`` text cast to ``uuid[]``; ``IN (SELECT value FROM
json_each(%s))`` on SQLite), so a page of 100 ids is one statement whatever its length,
compiled once.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Callable, Iterable

from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from django.db.models import Field, ForeignObject, Lookup, UUIDField


class Slot:
    """Stands for a parameter while a statement is compiled.

    ``Slot("ids")`` is the value of an ``any`` or ``eq`` lookup (``invoice_id__any=``,
    ``invoice_id__eq=``). Where the queryset is built by code that filters with plain
    ``exact`` (``for_org``), ``organization_slot()`` (a ``Slot`` with a ``sentinel``) gives one of
    the field's type, a value no row has, which the ORM sees and which is found again among
    the compiled parameters (integers only: other types change on their way to the
    database)."""

    def __init__(self, name: str, sentinel: int | None = None) -> None:
        if sentinel is not None and (not isinstance(sentinel, int) or not sentinel):
            raise TypeError("a Slot's sentinel is a non-zero integer")
        self.name = name
        self.sentinel = sentinel
        self.prepare: Callable | None = None  # set by AnyValue while compiling

    def __repr__(self) -> str:
        return f"Slot({self.name!r})"


ORGANIZATION_SENTINEL = -7_000_000_001


def organization_slot() -> Slot:
    """The organization a statement is scoped to, for querysets scoped with ``for_org`` (plain
    ``exact``): a sentinel id no organization has."""
    return Slot("organization", ORGANIZATION_SENTINEL)


class _SlotLookup(Lookup):
    """A lookup whose right-hand side may be a ``Slot``: its value is prepared for the
    database (the field's ``get_db_prep_value``) when the statement runs."""

    prepare_rhs = False

    def get_prep_lookup(self):
        return self.rhs

    def _db_value(self, value, connection):
        field = self.lhs.output_field
        return field.get_db_prep_value(field.get_prep_value(value), connection)

    def _param(self, value, connection):
        raise NotImplementedError

    def _uuid_column(self) -> bool:
        """Whether the column holds UUIDs (a UUID field, or a foreign key to one)."""
        field = self.lhs.output_field
        return isinstance(getattr(field, "target_field", field), UUIDField)

    def _rhs_param(self, connection):
        if isinstance(self.rhs, Slot):
            self.rhs.prepare = lambda value: self._param(value, connection)
            return self.rhs
        return self._param(self.rhs, connection)


class AnyValue(_SlotLookup):
    """``field__any=[…]``: the column equals one of the values, the values as a single
    parameter (an array on PostgreSQL, a JSON array on SQLite). Same rows as ``__in``."""

    lookup_name = "any"

    def _param(self, values, connection):
        if connection.vendor == "postgresql" and self._uuid_column():
            # One text parameter, ``{id,id,…}`` cast to uuid[]: psycopg's client-side binding
            # quotes a list element by element in Python (a page's 100 invoice ids cost more
            # than the rest of the statement); ids as the database gave them skip the field's
            # preparation.
            values = list(values)
            if not all(type(value) is uuid.UUID for value in values):
                values = [self._db_value(value, connection) for value in values]
            return "{" + ",".join("NULL" if v is None else str(v) for v in values) + "}"
        db_values = [self._db_value(value, connection) for value in values]
        if connection.vendor == "postgresql":
            return db_values
        return json.dumps([v if isinstance(v, int | float) else str(v) for v in db_values])

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        param = self._rhs_param(connection)
        if connection.vendor == "postgresql":
            cast = "::uuid[]" if self._uuid_column() else ""
            return f"{lhs} = ANY(%s{cast})", [*lhs_params, param]
        # lhs is the ORM-compiled column; the values are one bound parameter.
        return f"{lhs} IN (SELECT value FROM json_each(%s))", [*lhs_params, param]  # noqa: S608


class EqualsValue(_SlotLookup):
    """``field__eq=Slot("name")``: ``exact`` for a parameter given when the statement runs
    (``exact`` itself would prepare the ``Slot`` as a value while compiling)."""

    lookup_name = "eq"

    def _param(self, value, connection):
        return self._db_value(value, connection)

    def as_sql(self, compiler, connection):
        lhs, lhs_params = self.process_lhs(compiler, connection)
        return f"{lhs} = %s", [*lhs_params, self._rhs_param(connection)]


for _lookup in (AnyValue, EqualsValue):
    Field.register_lookup(_lookup)
    ForeignObject.register_lookup(_lookup)  # foreign keys have lookups of their own


class _Compiled:
    """One statement compiled for one connection (see ``CompiledRows``)."""

    def __init__(self, queryset, alias: str, slots: Iterable[Slot]) -> None:
        self.connection = connections[alias]
        self.compiler = queryset.query.get_compiler(using=alias)
        self.sql, params = self.compiler.as_sql()
        self.params = list(params)
        self.at: list[tuple[int, Slot]] = []  # (parameter index, its slot); a slot may recur
        for slot in slots:
            if slot.sentinel is None:
                found = [i for i, p in enumerate(self.params) if p is slot]
            else:
                found = [i for i, p in enumerate(self.params) if p == slot.sentinel]
            if not found:
                raise ImproperlyConfigured(f"{slot!r} is not a parameter of {self.sql}")
            self.at.extend((index, slot) for index in found)
        self.converters = self.compiler.get_converters(
            [column for column, _, _ in self.compiler.select]
        )

    def rows(self, values: dict) -> list[tuple]:
        params = list(self.params)
        for index, slot in self.at:
            value = values[slot.name]
            params[index] = slot.prepare(value) if slot.prepare is not None else value
        with self.connection.cursor() as cursor:
            cursor.execute(self.sql, params)
            rows = cursor.fetchall()
        if self.converters:
            rows = [tuple(row) for row in self.compiler.apply_converters(rows, self.converters)]
        return rows


class CompiledRows:
    """``build(**slots)`` returns a ``values_list`` queryset written with ``Slot``\\ s for its
    parameters; ``rows(**values)`` runs its statement, compiled once per thread and
    connection (as connections are per thread), with those values. ``model`` gives the
    database (its manager's ``db``)."""

    def __init__(self, model, build: Callable, *slots: Slot) -> None:
        self.model = model
        self.build = build
        self.slots = slots
        self.local = threading.local()

    def _compiled(self) -> _Compiled:
        alias = self.model.objects.db
        by_alias = getattr(self.local, "by_alias", None)
        if by_alias is None:
            by_alias = self.local.by_alias = {}
        compiled = by_alias.get(alias)
        if compiled is None or compiled.connection is not connections[alias]:
            slots = [Slot(slot.name, slot.sentinel) for slot in self.slots]  # fresh per compile
            queryset = self.build(
                **{s.name: s if s.sentinel is None else s.sentinel for s in slots}
            )
            compiled = by_alias[alias] = _Compiled(queryset, alias, slots)
        return compiled

    def rows(self, **values) -> list[tuple]:
        return self._compiled().rows(values)


def _related_setters(model, name: str):
    """How ``select_related`` caches a related object: on the instance, and on the related
    object too for a one-to-one (forward or reverse)."""
    field = model._meta.get_field(name)
    if field.auto_created and not field.concrete:  # a reverse relation
        if not field.one_to_one:
            raise ImproperlyConfigured(f"{name!r}: only reverse one-to-one relations join once")
        return field.set_cached_value, field.field.set_cached_value
    remote = field.remote_field.set_cached_value if field.unique else None
    return field.set_cached_value, remote


def attnames(model) -> tuple[str, ...]:
    """The model's concrete columns by attribute name, in the ORM's order."""
    return tuple(field.attname for field in model._meta.concrete_fields)


class CompiledInstances:
    """``CompiledRows`` whose rows become model instances, as the queryset would give them:
    ``related`` ((name, model) pairs: foreign keys, or reverse one-to-one relations) loaded as
    ``select_related`` loads them (cached on both sides of a one-to-one; ``None`` when the
    outer join found no row), ``extra`` (annotations of ``build``'s queryset) set as
    attributes, as ``annotate`` sets them. ``build(**slots)`` returns the queryset before
    ``values_list``; ``limit`` slices it.
    """

    def __init__(self, model, build: Callable, *slots: Slot, related=(), extra=(), limit=None):
        self.model = model
        self.related = tuple(related)
        self.extra = tuple(extra)
        self.columns = [attnames(model)]
        self.columns += [attnames(related_model) for _, related_model in self.related]
        names = list(self.columns[0])
        for (name, _), columns in zip(self.related, self.columns[1:], strict=True):
            names += [f"{name}__{attname}" for attname in columns]
        names += self.extra
        self.setters = [_related_setters(model, name) for name, _ in self.related]
        self.pk_at = [
            columns.index(related_model._meta.pk.attname)
            for (_, related_model), columns in zip(self.related, self.columns[1:], strict=True)
        ]

        def values(**values):
            queryset = build(**values).values_list(*names)
            return queryset[:limit] if limit is not None else queryset

        self.statement = CompiledRows(model, values, *slots)

    def get(self, **values) -> list:
        db = self.model.objects.db
        found = []
        for row in self.statement.rows(**values):
            start = len(self.columns[0])
            instance = self.model.from_db(db, self.columns[0], row[:start])
            for (_, related_model), columns, pk_at, (local, remote) in zip(
                self.related, self.columns[1:], self.pk_at, self.setters, strict=True
            ):
                end = start + len(columns)
                values = row[start:end]
                related = None
                if values[pk_at] is not None:
                    related = related_model.from_db(db, columns, values)
                    if remote is not None:
                        remote(related, instance)
                local(instance, related)
                start = end
            for name, value in zip(self.extra, row[start:], strict=True):
                setattr(instance, name, value)
            found.append(instance)
        return found
