from django.apps import AppConfig


class CreditsConfig(AppConfig):
    """Money that is not exactly an invoice: deductions (short payments with a reason), and
    later credit notes and customer credit."""

    name = "credits"
    verbose_name = "Credits and deductions"
    default_auto_field = "django.db.models.BigAutoField"
