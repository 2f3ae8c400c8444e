from rest_framework.routers import SimpleRouter

from customers.api.views import ContactViewSet, CustomerViewSet, TagViewSet

router = SimpleRouter(trailing_slash=False)
router.register("customers", CustomerViewSet, basename="customer")
router.register("contacts", ContactViewSet, basename="contact")
router.register("tags", TagViewSet, basename="tag")

urlpatterns = router.urls
