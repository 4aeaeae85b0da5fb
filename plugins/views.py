"""GET /api/v1/plugins: the catalogue of registered plugins with their settings schema."""

from __future__ import annotations

import uuid
from typing import Any

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plugins.base import Plugin
from plugins.registry import registry
from plugins.schema import serializer_schema
from plugins.serializers import PluginCatalogueEntrySerializer

# TrustGate's namespace for plugin ids: the same name gets the same id in both gateways.
CATALOGUE_NAMESPACE = uuid.UUID("6ba7b810-9dad-11d1-80b4-00c04fd430c8")


def catalogue_entry(plugin: type[Plugin]) -> dict[str, Any]:
    return {
        "id": uuid.uuid5(CATALOGUE_NAMESPACE, plugin.name),
        "name": plugin.name,
        "label": plugin.label or plugin.name,
        "description": plugin.description,
        "category": plugin.category,
        "allowed_stages": list(plugin.allowed_stages),
        "fixed_stages": list(plugin.fixed_stages),
        "settings_schema": serializer_schema(plugin.settings_serializer()),
    }


class PluginCatalogueView(APIView):
    @extend_schema(
        description="Every plugin the gateway can run, with the JSON Schema of its settings.",
        responses={200: PluginCatalogueEntrySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        entries = [catalogue_entry(plugin) for plugin in registry.all()]
        return Response(PluginCatalogueEntrySerializer(entries, many=True).data)
