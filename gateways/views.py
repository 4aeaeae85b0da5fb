"""Thin admin API viewsets: validate with serializers, write through services."""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status, viewsets
from rest_framework.decorators import action
from rest_framework.request import Request
from rest_framework.response import Response

from gateway_project.pagination import (
    TRUSTGATE_RENDERERS,
    LenientFormatNegotiation,
    trustgate_pagination,
)
from gateway_project.schema import ErrorSerializer
from gateways import selectors, services
from gateways.models import Gateway
from gateways.serializers import (
    GatewaySerializer,
    RuleSerializer,
    ServiceSerializer,
    UpstreamSerializer,
)
from plugins import services as plugin_services
from plugins.serializers import (
    PluginsAddSerializer,
    PluginsDeleteSerializer,
    PluginsUpdateSerializer,
)
from plugins.views import PluginCatalogueView


class CachePurgedSerializer(serializers.Serializer):
    deleted = serializers.IntegerField(help_text="Redis keys deleted.")


class SaveThroughServiceMixin:
    """create/update/destroy call the viewset's `save_object`/`delete_object`.

    PUT is partial, as in TrustGate: fields left out keep their value (PATCH does the same).
    """

    partial_put = True  # read by the OpenAPI schema

    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        serializer = self.get_serializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        instance = self.save_object(data=serializer.validated_data)
        return Response(self.get_serializer(instance).data, status=status.HTTP_201_CREATED)

    def update(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        instance = self.get_object()
        serializer = self.get_serializer(instance, data=request.data, partial=True)
        serializer.is_valid(raise_exception=True)
        instance = self.save_object(data=serializer.validated_data, instance=instance)
        return Response(self.get_serializer(self.get_object()).data)

    def perform_destroy(self, instance: Any) -> None:
        self.delete_object(instance)


class GatewayViewSet(SaveThroughServiceMixin, viewsets.ModelViewSet):
    serializer_class = GatewaySerializer
    lookup_url_kwarg = "gateway_id"
    renderer_classes = TRUSTGATE_RENDERERS
    content_negotiation_class = LenientFormatNegotiation
    pagination_class = trustgate_pagination("gateways")

    def get_queryset(self):
        return selectors.gateway_list()

    def save_object(self, *, data: dict[str, Any], instance: Gateway | None = None) -> Gateway:
        return services.gateway_save(data=data, gateway=instance)

    def delete_object(self, instance: Gateway) -> None:
        services.gateway_delete(gateway=instance)

    @extend_schema(
        description="Delete the answers the gateway's response caches keep (`?rule=<id>`: one "
        'rule\'s). Answers `{"deleted": <keys>}`.',
        request=None,
        responses={
            200: CachePurgedSerializer,
            400: OpenApiResponse(ErrorSerializer, description="`rule` is not the gateway's."),
            404: OpenApiResponse(ErrorSerializer, description="No such gateway."),
        },
    )
    @action(detail=True, methods=["delete"], url_path="cache")
    def cache(self, request: Request, gateway_id: str | None = None) -> Response:
        rule_id = request.query_params.get("rule")
        deleted = services.gateway_cache_purge(gateway=self.get_object(), rule_id=rule_id)
        return Response({"deleted": deleted})


class GatewayChildViewSet(SaveThroughServiceMixin, viewsets.ModelViewSet):
    """Base of viewsets nested under `/gateways/{gateway_id}/`."""

    lookup_url_kwarg = "object_id"

    @cached_property
    def gateway(self) -> Gateway:
        return selectors.gateway_get(gateway_id=self.kwargs["gateway_id"])

    def get_serializer_context(self) -> dict[str, Any]:
        return {**super().get_serializer_context(), "gateway": self.gateway}


class UpstreamViewSet(GatewayChildViewSet):
    serializer_class = UpstreamSerializer

    def get_queryset(self):
        return selectors.upstream_list(gateway=self.gateway)

    def save_object(self, *, data, instance=None):
        return services.upstream_save(gateway=self.gateway, data=data, upstream=instance)

    def delete_object(self, instance) -> None:
        services.upstream_delete(upstream=instance)


class ServiceViewSet(GatewayChildViewSet):
    serializer_class = ServiceSerializer

    def get_queryset(self):
        return selectors.service_list(gateway=self.gateway)

    def save_object(self, *, data, instance=None):
        return services.service_save(gateway=self.gateway, data=data, service=instance)

    def delete_object(self, instance) -> None:
        services.service_delete(service=instance)


class RuleViewSet(GatewayChildViewSet):
    serializer_class = RuleSerializer

    def get_queryset(self):
        return selectors.rule_list(gateway=self.gateway)

    def save_object(self, *, data, instance=None):
        return services.rule_save(gateway=self.gateway, data=data, rule=instance)

    def delete_object(self, instance) -> None:
        services.rule_delete(rule=instance)


CHAIN_WRITE_RESPONSES = {
    204: OpenApiResponse(description="Done: the chain is changed."),
    404: OpenApiResponse(ErrorSerializer, description="No such gateway or rule."),
}


class PluginsView(PluginCatalogueView):
    """GET: the catalogue. POST, PUT, DELETE: change the plugins of one gateway or rule, each
    in one transaction (one config version), answering 204 as TrustGate does."""

    delete_takes_a_body = True  # read by the OpenAPI schema

    @extend_schema(
        description="Add plugins to a gateway (`required_plugins`) or a rule (`plugin_chain`). "
        "A plugin already there at the same stage is refused.",
        request=PluginsAddSerializer,
        responses=CHAIN_WRITE_RESPONSES,
    )
    def post(self, request: Request) -> Response:
        return self._write(request, PluginsAddSerializer, plugin_services.plugin_chain_add)

    @extend_schema(
        description="Add, edit or delete plugins of a gateway or rule, in order, all or none.",
        request=PluginsUpdateSerializer,
        responses=CHAIN_WRITE_RESPONSES,
    )
    def put(self, request: Request) -> Response:
        return self._write(request, PluginsUpdateSerializer, plugin_services.plugin_chain_update)

    @extend_schema(
        description="Remove plugins, by name, from a gateway or rule.",
        request=PluginsDeleteSerializer,
        responses=CHAIN_WRITE_RESPONSES,
    )
    def delete(self, request: Request) -> Response:
        return self._write(request, PluginsDeleteSerializer, plugin_services.plugin_chain_remove)

    @staticmethod
    def _write(
        request: Request,
        serializer_class: type[serializers.Serializer],
        write: Callable[..., None],
    ) -> Response:
        serializer = serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        body = dict(serializer.validated_data)
        owner = selectors.plugin_owner_get(kind=body.pop("type"), owner_id=body.pop("id"))
        write(owner=owner, **body)
        return Response(status=status.HTTP_204_NO_CONTENT)
