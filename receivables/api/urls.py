from rest_framework.routers import SimpleRouter

from receivables.api import views

router = SimpleRouter(trailing_slash=False)
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("funds", views.FundViewSet, basename="fund")
router.register("exchange-rates", views.ExchangeRateViewSet, basename="exchange-rate")
# GET /customers/{id}/statement and POST …/statement/send (customers cannot import receivables).
router.register("customers", views.CustomerStatementViewSet, basename="customer-statement")
router.register("statements", views.StatementSendViewSet, basename="statement")

urlpatterns = router.urls
