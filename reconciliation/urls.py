from django.urls import path

from reconciliation import views

app_name = "reconciliation"

urlpatterns = [
    path("", views.dashboard, name="dashboard"),
    path("changes/", views.change_list, name="changes"),
    path("changes/action", views.change_action, name="change-action"),
    path("changes/reject", views.change_reject_confirm, name="change-reject-confirm"),
    path("changes/invoice/<uuid:invoice_id>/", views.invoice_history, name="invoice-history"),
]
