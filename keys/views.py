"""Admin API for the API keys of a gateway: create, list, retrieve, revoke, rotate, and the
TrustGate list of keys showing only their prefix (`/public-keys`)."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from drf_spectacular.utils import extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from gateway_project.pagination import (
    MAX_PAGE_SIZE,
    TRUSTGATE_RENDERERS,
    LenientFormatNegotiation,
    trustgate_pagination,
)
from gateway_project.serializers import StrictSerializer
from gateways.models import Gateway
from gateways.selectors import gateway_get
from keys import selectors, services
from keys.models import ApiKey
from keys.serializers import (
    ApiKeySerializer,
    ApiKeyWithSecretSerializer,
    PoliciesSerializer,
    PublicApiKeySerializer,
)

# TrustGate lists a gateway's keys whole, as `{"api_keys": [...], "count": n}`.
KeyPagination = trustgate_pagination("api_keys", fields=("count",), default_limit=MAX_PAGE_SIZE)


class GatewayKeysMixin:
    """The keys of the gateway in the URL (404 when it does not exist)."""

    renderer_classes = TRUSTGATE_RENDERERS
    content_negotiation_class = LenientFormatNegotiation
    pagination_class = KeyPagination

    @cached_property
    def gateway(self) -> Gateway:
        return gateway_get(gateway_id=self.kwargs["gateway_id"])

    def get_queryset(self):
        return selectors.api_key_list(gateway_id=self.gateway.pk)

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "gateway": self.gateway}


@extend_schema_view(
    list=extend_schema(
        description="List the API keys in TrustGate's shape; each `key` shows only the prefix."
    )
)
class PublicApiKeyViewSet(GatewayKeysMixin, mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = PublicApiKeySerializer
    pagination_class = trustgate_pagination(
        "api_keys", fields=("count",), default_limit=MAX_PAGE_SIZE, only=True
    )


class ApiKeyViewSet(
    GatewayKeysMixin,
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.UpdateModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    serializer_class = ApiKeySerializer
    lookup_url_kwarg = "object_id"
    http_method_names = ["get", "post", "put", "patch", "delete", "head", "options"]

    @extend_schema(
        description="Create an API key. The plain `key` is in this response only: store it.",
        responses={201: ApiKeyWithSecretSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        api_key, secret = services.api_key_create(gateway=self.gateway, **serializer.validated_data)
        return self._with_secret(api_key, secret, status.HTTP_201_CREATED)

    @extend_schema(
        description="Give the key a new secret; the old one stops working at once. "
        "The new plain `key` is in this response only.",
        request=None,
    )
    @action(detail=True, methods=["post"], serializer_class=ApiKeyWithSecretSerializer)
    def rotate(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        StrictSerializer(data=request.data or {}).is_valid(raise_exception=True)  # no body
        api_key, secret = services.api_key_rotate(api_key=self.get_object())
        return self._with_secret(api_key, secret, status.HTTP_200_OK)

    def perform_update(self, serializer: ApiKeySerializer) -> None:
        services.api_key_update(api_key=serializer.instance, **serializer.validated_data)

    @extend_schema(
        description="Set the rules the key may use (TrustGate E2's `policies`); [] allows all.",
        request=PoliciesSerializer,
    )
    @action(detail=True, methods=["put"])
    def policies(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_key = self.get_object()
        serializer = PoliciesSerializer(data=request.data, context=self.get_serializer_context())
        serializer.is_valid(raise_exception=True)
        services.api_key_update(api_key=api_key, **serializer.validated_data)
        return Response(ApiKeySerializer(api_key, context=self.get_serializer_context()).data)

    def perform_destroy(self, instance: ApiKey) -> None:
        services.api_key_revoke(api_key=instance)

    @staticmethod
    def _with_secret(api_key: ApiKey, secret: str, code: int) -> Response:
        api_key.key = secret
        return Response(ApiKeyWithSecretSerializer(api_key).data, status=code)
