from rest_framework.routers import SimpleRouter

from payments.api import credit, remittances, rules
from payments.api.views import PaymentImportViewSet, PaymentViewSet

router = SimpleRouter(trailing_slash=False)
router.register("payments/imports", PaymentImportViewSet, basename="payment-import")
router.register("payments", PaymentViewSet, basename="payment")

urlpatterns = [*router.urls, *credit.urlpatterns, *remittances.urlpatterns, *rules.urlpatterns]
