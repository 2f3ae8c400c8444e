from rest_framework.routers import SimpleRouter

from credits.api import credit_notes, customer_credit
from credits.api.views import DeductionReasonViewSet, DeductionViewSet

router = SimpleRouter(trailing_slash=False)
router.register("deductions", DeductionViewSet, basename="deduction")
router.register("deduction-reasons", DeductionReasonViewSet, basename="deduction-reason")

urlpatterns = [*router.urls, *credit_notes.urlpatterns, *customer_credit.urlpatterns]
