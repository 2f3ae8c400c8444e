from django.urls import path
from rest_framework.routers import SimpleRouter

from dunning.api.views import (
    CollectionsViewSet,
    CustomerActivityViewSet,
    DisputeViewSet,
    PromiseViewSet,
    ReminderViewSet,
    WorklistViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("reminders", ReminderViewSet, basename="reminder")
router.register("promises", PromiseViewSet, basename="promise")

policy = CollectionsViewSet.as_view({"get": "policy_get", "put": "policy_put"})
run = CollectionsViewSet.as_view({"post": "run"})
# Under /invoices/{id}/ but collections' (receivables cannot import this app).
dispute_open = DisputeViewSet.as_view({"post": "open"})
dispute_resolve = DisputeViewSet.as_view({"post": "resolve"})
worklist = WorklistViewSet.as_view({"get": "worklist"})
# Under /customers/{id}/ but collections' (customers cannot import this app).
activity = CustomerActivityViewSet.as_view({"get": "activity"})
notes = CustomerActivityViewSet.as_view({"post": "note"})

urlpatterns = [
    path("collections/policy", policy, name="collections-policy"),
    path("collections/run", run, name="collections-run"),
    path("collections/worklist", worklist, name="collections-worklist"),
    path("customers/<str:pk>/activity", activity, name="customer-activity"),
    path("customers/<str:pk>/notes", notes, name="customer-notes"),
    path("invoices/<str:pk>/dispute", dispute_open, name="invoice-dispute"),
    path("invoices/<str:pk>/dispute/resolve", dispute_resolve, name="invoice-dispute-resolve"),
    *router.urls,
]
