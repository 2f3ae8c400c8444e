from django.urls import path
from rest_framework.routers import SimpleRouter

from dunning.api.views import CollectionsViewSet, DisputeViewSet, PromiseViewSet, ReminderViewSet

router = SimpleRouter(trailing_slash=False)
router.register("reminders", ReminderViewSet, basename="reminder")
router.register("promises", PromiseViewSet, basename="promise")

policy = CollectionsViewSet.as_view({"get": "policy_get", "put": "policy_put"})
run = CollectionsViewSet.as_view({"post": "run"})
# Under /invoices/{id}/ but collections' (receivables cannot import this app).
dispute_open = DisputeViewSet.as_view({"post": "open"})
dispute_resolve = DisputeViewSet.as_view({"post": "resolve"})

urlpatterns = [
    path("collections/policy", policy, name="collections-policy"),
    path("collections/run", run, name="collections-run"),
    path("invoices/<str:pk>/dispute", dispute_open, name="invoice-dispute"),
    path("invoices/<str:pk>/dispute/resolve", dispute_resolve, name="invoice-dispute-resolve"),
    *router.urls,
]
