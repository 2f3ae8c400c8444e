from django.urls import path

from receivables import statement_views, views

app_name = "receivables"

urlpatterns = [
    path("", views.invoice_list, name="invoices"),
    path("export.csv", views.invoice_export, name="invoices-export"),
    path("<uuid:pk>/", views.invoice_detail, name="invoice"),
    path(
        "<uuid:pk>/offline-payments/<uuid:payment_id>/reverse/",
        views.offline_payment_reverse,
        name="offline-payment-reverse",
    ),
    path("customers/<uuid:customer_id>/", views.customer_receivables, name="customer-panel"),
    path(
        "customers/<uuid:customer_id>/activity/",
        views.customer_activity,
        name="customer-activity",
    ),
    path(
        "customers/<uuid:customer_id>/statement/",
        statement_views.customer_statement_page,
        name="customer-statement",
    ),
]
