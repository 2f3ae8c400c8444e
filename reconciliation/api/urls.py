from django.urls import path
from rest_framework.routers import SimpleRouter

from reconciliation.api.views import (
    AccountingChangeViewSet,
    ReconciliationViewSet,
    SyncTargetViewSet,
)

router = SimpleRouter(trailing_slash=False)
router.register("reconciliation/changes", AccountingChangeViewSet, basename="accounting-change")
router.register("reconciliation", ReconciliationViewSet, basename="reconciliation")

sync_target = SyncTargetViewSet.as_view({"get": "retrieve", "put": "update", "delete": "destroy"})
sync_target_rotate = SyncTargetViewSet.as_view({"post": "rotate_secret"})

urlpatterns = [
    path("reconciliation/sync-target", sync_target, name="sync-target"),
    path("reconciliation/sync-target/rotate-secret", sync_target_rotate, name="sync-target-rotate"),
    *router.urls,
]
