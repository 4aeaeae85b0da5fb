"""Admin-plane URLs: the REST API under /api/v1, its schema and docs, the Django admin with its
monitoring pages, and /metrics."""

from django.contrib import admin
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerView
from rest_framework.routers import SimpleRouter

from gateway_project.views import VersionView
from gateways.views import (
    GatewayViewSet,
    PluginsView,
    RuleViewSet,
    ServiceViewSet,
    UpstreamViewSet,
)
from keys.views import ApiKeyViewSet, GatewaySpendView, IamApiKeyViewSet, PublicApiKeyViewSet
from observability.views import metrics, monitoring_gateway, monitoring_overview

router = SimpleRouter()
router.trailing_slash = "/?"  # both /gateways and /gateways/ (the seed writes no slash)
router.register("gateways", GatewayViewSet, basename="gateway")
nested = "gateways/(?P<gateway_id>[^/.]+)"
router.register(f"{nested}/upstreams", UpstreamViewSet, basename="upstream")
router.register(f"{nested}/services", ServiceViewSet, basename="service")
router.register(f"{nested}/rules", RuleViewSet, basename="rule")
router.register(f"{nested}/keys", ApiKeyViewSet, basename="api-key")
router.register(f"{nested}/public-keys", PublicApiKeyViewSet, basename="public-api-key")
router.register("iam/api-keys", IamApiKeyViewSet, basename="iam-api-key")  # TrustGate E2

urlpatterns = [
    path("api/v1/plugins", PluginsView.as_view(), name="plugins"),
    path("api/v1/version", VersionView.as_view(), name="version"),
    path("api/v1/schema", SpectacularAPIView.as_view(), name="schema"),
    path("api/v1/docs", SpectacularSwaggerView.as_view(url_name="schema"), name="docs"),
    path("api/v1/gateways/<uuid:gateway_id>/spend", GatewaySpendView.as_view(), name="spend"),
    path("api/v1/", include(router.urls)),
    path("metrics", metrics, name="metrics"),
    path("admin/monitoring/", admin.site.admin_view(monitoring_overview), name="monitoring"),
    path(
        "admin/monitoring/<uuid:gateway_id>/",
        admin.site.admin_view(monitoring_gateway),
        name="monitoring-gateway",
    ),
    path("admin/", admin.site.urls),
]


handler400 = "gateway_project.exceptions.bad_request"
handler403 = "gateway_project.exceptions.permission_denied"
handler404 = "gateway_project.exceptions.not_found"
handler500 = "gateway_project.exceptions.server_error"
