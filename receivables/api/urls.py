from rest_framework.routers import SimpleRouter

from receivables.api import views

router = SimpleRouter(trailing_slash=False)
router.register("invoices", views.InvoiceViewSet, basename="invoice")
router.register("accounts", views.AccountViewSet, basename="account")
router.register("funds", views.FundViewSet, basename="fund")

urlpatterns = router.urls
