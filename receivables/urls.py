from django.urls import path

from receivables import views

app_name = "receivables"

urlpatterns = [
    path("", views.invoice_list, name="invoices"),
    path("<uuid:pk>/", views.invoice_detail, name="invoice"),
    path("customers/<uuid:customer_id>/", views.customer_receivables, name="customer-panel"),
]
