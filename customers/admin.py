from django.contrib import admin

from customers.models import Contact, Customer, CustomerTag, Tag


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


@admin.register(Customer)
class CustomerAdmin(admin.ModelAdmin):
    list_display = ["company_name", "external_id", "organization", "timezone", "created_at"]
    list_filter = ["organization", "timezone", "tags"]
    search_fields = ["company_name", "external_id", "contacts__contact_name", "contacts__email"]
    list_select_related = ["organization"]
    readonly_fields = ["id", "created_at", "updated_at"]
    inlines = [ContactInline, CustomerTagInline]
    show_full_result_count = False

    def save_formset(self, request, form, formset, change):
        for instance in formset.save(commit=False):
            if isinstance(instance, Contact) and not instance.organization_id:
                instance.organization_id = form.instance.organization_id
            instance.save()
        for obj in formset.deleted_objects:
            obj.delete()
        formset.save_m2m()


@admin.register(Contact)
class ContactAdmin(admin.ModelAdmin):
    list_display = ["contact_name", "email", "phone", "customer", "is_primary", "escalation_level"]
    list_filter = ["is_primary", "escalation_level", "organization"]
    search_fields = ["contact_name", "email", "phone", "customer__company_name"]
    list_select_related = ["customer"]
    autocomplete_fields = ["customer"]
    readonly_fields = ["id", "created_at", "updated_at"]


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    list_display = ["name", "color", "organization", "created_at"]
    list_filter = ["organization"]
    search_fields = ["name"]
    readonly_fields = ["id", "created_at", "updated_at"]
