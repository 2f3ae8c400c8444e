from django.urls import path

from payments import views
from payments.views import credit, queue, rules

app_name = "payments"

urlpatterns = [
    path("", views.payment_list, name="list"),
    path("review/", views.review_queue, name="review"),
    path("review/bulk-reviewed", queue.bulk_review, name="bulk-review"),
    path("payers/", queue.payers, name="payers"),
    path("rules/", rules.rule_list, name="rules"),
    path("rules/new", rules.rule_new, name="rule-new"),
    path("rules/<uuid:pk>/", rules.rule_edit, name="rule-edit"),
    path("rules/<uuid:pk>/delete", rules.rule_delete, name="rule-delete"),
    path("import/", views.import_upload, name="import"),
    path("import/<uuid:pk>/", views.import_detail, name="import-detail"),
    path("<uuid:pk>/", views.payment_detail, name="detail"),
    path("<uuid:pk>/search", views.invoice_search, name="invoice-search"),
    path("<uuid:pk>/split", views.split_panel, name="split-panel"),
    path("<uuid:pk>/customer/<uuid:customer_id>", queue.customer_items, name="customer-items"),
    path("<uuid:pk>/apply/<int:rank>", views.apply_suggestion, name="apply"),
    path("<uuid:pk>/allocate", views.allocate, name="allocate"),
    path("<uuid:pk>/write-off", views.write_off, name="write-off"),
    path("<uuid:pk>/unapply", views.unapply, name="unapply"),
    path("<uuid:pk>/reviewed", views.mark_reviewed, name="review-mark"),
    path("<uuid:pk>/remember-payer", queue.remember_payer, name="remember-payer"),
    path("invoice/<uuid:invoice_id>/", views.invoice_panel, name="invoice-panel"),
    path("customer/<uuid:customer_id>/", views.customer_panel, name="customer-panel"),
    path(
        "customer/<uuid:customer_id>/credit/", credit.customer_credit_panel, name="customer-credit"
    ),
    path(
        "customer/<uuid:customer_id>/credit/<uuid:payment_id>/apply",
        credit.credit_apply,
        name="customer-credit-apply",
    ),
    path(
        "customer/<uuid:customer_id>/credit/<uuid:payment_id>/refund",
        credit.credit_refund,
        name="customer-credit-refund",
    ),
]
