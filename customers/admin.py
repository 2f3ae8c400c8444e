"""The admin of customers, contacts and tags. Every write goes through ``customers.services``
(so events are emitted and other apps may veto a delete); a refusal is an error message and
nothing is written."""

import functools

from django.contrib import admin, messages
from django.db import transaction
from django.http import HttpResponseRedirect
from django.urls import reverse

from arpilot.errors import ApplicationError
from customers import services
from customers.models import Contact, Customer, CustomerTag, Tag


def _error_text(exc: ApplicationError) -> str:
    details = [message for messages_ in exc.fields.values() for message in messages_]
    if details and exc.message not in details:
        return f"{exc.message} ({' '.join(details)})"
    return exc.message


def _copy_state(target, source) -> None:
    """Make the admin's unsaved ``target`` the row a service wrote (``source``)."""
    for field in source._meta.concrete_fields:
        setattr(target, field.attname, getattr(source, field.attname))
    target._state.adding = False
    target._state.db = source._state.db


class ServiceWritesAdmin(admin.ModelAdmin):
    """Saves and deletes call the app's services (``save_model``, ``delete_model``); a
    service's refusal (``ApplicationError``: a veto, a conflict, invalid input) rolls the
    whole request back and shows as an admin error message."""

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        try:
            return super().changeform_view(request, object_id, form_url, extra_context)
        except ApplicationError as exc:
            self.message_user(request, _error_text(exc), messages.ERROR)
            return HttpResponseRedirect(request.get_full_path())

    def delete_view(self, request, object_id, extra_context=None):
        try:
            return super().delete_view(request, object_id, extra_context)
        except ApplicationError as exc:
            self.message_user(request, _error_text(exc), messages.ERROR)
            opts = self.model._meta
            return HttpResponseRedirect(
                reverse(f"admin:{opts.app_label}_{opts.model_name}_change", args=[object_id])
            )

    def get_actions(self, request):
        actions = super().get_actions(request)
        if "delete_selected" in actions:
            func, name, description = actions["delete_selected"]
            actions[name] = (self._all_or_nothing(func), name, description)
        return actions

    def _all_or_nothing(self, action):
        """The bulk delete deletes every selected object or, when one is refused, none."""

        @functools.wraps(action)
        def wrapped(modeladmin, request, queryset):
            try:
                with transaction.atomic():
                    return action(modeladmin, request, queryset)
            except ApplicationError as exc:
                modeladmin.message_user(
                    request, f"Nothing was deleted: {_error_text(exc)}", messages.ERROR
                )
                return None

        return wrapped

    def delete_queryset(self, request, queryset):
        for obj in queryset:
            self.delete_model(request, obj)


class ContactInline(admin.TabularInline):
    model = Contact
    extra = 0
    fields = [
        "contact_name",
        "email",
        "phone",
        "phone_type",
        "is_primary",
        "escalation_level",
        "title",
    ]
    ordering = ["escalation_level", "contact_name"]


class CustomerTagInline(admin.TabularInline):
    model = CustomerTag
    extra = 0
    autocomplete_fields = ["tag"]


def _contact_values(contact: Contact, names) -> dict:
    values = {name: getattr(contact, name) for name in names if name in services.CONTACT_FIELDS}
    if "is_primary" in names:
        values["is_primary"] = contact.is_primary
    return values


@admin.register(Customer)
class CustomerAdmin(ServiceWritesAdmin):
    list_display = ["company_name", "external_id", "organization", "timezone", "created_at"]
    list_filter = ["organization", "timezone", "tags"]
    search_fields = ["company_name", "external_id", "contacts__contact_name", "contacts__email"]
    list_select_related = ["organization"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [ContactInline, CustomerTagInline]
    show_full_result_count = False

    def get_readonly_fields(self, request, obj=None):
        # The services keep a customer in its organization.
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organization"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        """Written with its contacts and tags in ``save_related``: one service call."""

    def save_related(self, request, form, formsets, change):
        customer = form.instance
        contacts, delete_contact_ids, tags = [], [], None
        for formset in formsets:
            # commit=False: what the inline changes, for the service (and the change message).
            formset.save(commit=False)
            if formset.model is Contact:
                contacts += [
                    _contact_values(contact, ContactInline.fields)
                    for contact in formset.new_objects
                ]
                contacts += [
                    {"id": contact.pk, **_contact_values(contact, changed)}
                    for contact, changed in formset.changed_objects
                ]
                delete_contact_ids += [contact.pk for contact in formset.deleted_objects]
            elif formset.model is CustomerTag and formset.has_changed():
                tags = [
                    f.cleaned_data["tag"].name
                    for f in formset.forms
                    if f.cleaned_data.get("tag") and not f.cleaned_data.get("DELETE")
                ]
        fields = {
            name: form.cleaned_data[name]
            for name in services.CUSTOMER_FIELDS
            if name in form.cleaned_data and (not change or name in form.changed_data)
        }
        if change:
            saved = services.customer_update(
                organization=customer.organization,
                customer_id=customer.pk,
                fields=fields,
                tags=tags,
                contacts=contacts,
                delete_contact_ids=delete_contact_ids,
            )
        else:
            saved = services.customer_create(
                organization=form.cleaned_data["organization"],
                contacts=contacts,
                tags=tags,
                **fields,
            )
        _copy_state(customer, saved)

    def get_deleted_objects(self, objs, request):
        # What goes with a customer is the service's to decide (its contacts and tags, and
        # through the receivables' hook the invoices that never moved money; a veto for the
        # rest is an error message): not the database's RESTRICT, nor the permissions of the
        # admins of those rows (invoices are never deleted in their admin).
        deleted, counts, _perms_needed, _protected = super().get_deleted_objects(objs, request)
        return deleted, counts, set(), []

    def delete_model(self, request, obj):
        services.customer_delete(organization=obj.organization, customer_id=obj.pk)


@admin.register(Contact)
class ContactAdmin(ServiceWritesAdmin):
    list_display = ["contact_name", "email", "phone", "customer", "is_primary", "escalation_level"]
    list_filter = ["is_primary", "escalation_level", "organization"]
    search_fields = ["contact_name", "email", "phone", "customer__company_name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["id", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        # The services keep a contact with its customer (and its customer's organization).
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organization", "customer"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        if change:
            names = [n for n in form.changed_data if n in (*services.CONTACT_FIELDS, "is_primary")]
            saved = services.contact_update(
                organization=obj.organization,
                contact_id=obj.pk,
                values={name: form.cleaned_data[name] for name in names},
            )
        else:
            customer = form.cleaned_data["customer"]
            values = {
                name: form.cleaned_data[name]
                for name in services.CONTACT_FIELDS
                if name in form.cleaned_data
            }
            saved = services.contact_create(
                organization=customer.organization,
                customer_id=customer.pk,
                is_primary=form.cleaned_data.get("is_primary", False),
                **values,
            )
        _copy_state(obj, saved)

    def delete_model(self, request, obj):
        services.contact_delete(organization=obj.organization, contact_id=obj.pk)


@admin.register(Tag)
class TagAdmin(ServiceWritesAdmin):
    list_display = ["name", "color", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name"]
    readonly_fields = ["id", "created_at", "updated_at"]

    def get_readonly_fields(self, request, obj=None):
        fields = list(super().get_readonly_fields(request, obj))
        return [*fields, "organization"] if obj is not None else fields

    def save_model(self, request, obj, form, change):
        if change:
            saved = services.tag_update(
                organization=obj.organization,
                tag_id=obj.pk,
                name=form.cleaned_data["name"] if "name" in form.changed_data else None,
                color=form.cleaned_data["color"] if "color" in form.changed_data else None,
            )
        else:
            saved = services.tag_create(
                organization=form.cleaned_data["organization"],
                name=form.cleaned_data["name"],
                color=form.cleaned_data.get("color") or None,
            )
        _copy_state(obj, saved)

    def delete_model(self, request, obj):
        services.tag_delete(organization=obj.organization, tag_id=obj.pk)
