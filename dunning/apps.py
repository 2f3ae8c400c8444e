from django.apps import AppConfig


class DunningConfig(AppConfig):
    """Collections: the dunning policy and its daily run, reminders, promises, disputes."""

    name = "dunning"
    verbose_name = "Collections"
    default_auto_field = "django.db.models.BigAutoField"
