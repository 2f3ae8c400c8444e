from rest_framework.routers import SimpleRouter

from receivables.aplos import views

router = SimpleRouter(trailing_slash=False)
router.register("receivables", views.AplosReceivableViewSet, basename="aplos-receivable")

urlpatterns = router.urls
