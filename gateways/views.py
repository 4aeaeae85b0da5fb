"""Thin admin API viewsets: validate with serializers, write through services."""

from __future__ import annotations

from functools import cached_property
from typing import Any

from rest_framework import status, viewsets
from rest_framework.request import Request
from rest_framework.response import Response

from gateways import selectors, services
from gateways.models import Gateway
from gateways.serializers import (
    GatewaySerializer,
    RuleSerializer,
    ServiceSerializer,
    UpstreamSerializer,
)


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

    def get_queryset(self):
        return selectors.gateway_list()

    def save_object(self, *, data: dict[str, Any], instance: Gateway | None = None) -> Gateway:
        return services.gateway_save(data=data, gateway=instance)

    def delete_object(self, instance: Gateway) -> None:
        services.gateway_delete(gateway=instance)


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
