"""GET /api/v1/plugins: the catalogue of registered plugins with their settings schema."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from plugins.registry import registry
from plugins.schema import serializer_schema
from plugins.serializers import PluginCatalogueEntrySerializer


class PluginCatalogueView(APIView):
    @extend_schema(
        description="Every plugin the gateway can run, with the JSON Schema of its settings.",
        responses={200: PluginCatalogueEntrySerializer(many=True)},
    )
    def get(self, request: Request) -> Response:
        return Response(
            [
                {
                    "name": plugin.name,
                    "description": plugin.description,
                    "allowed_stages": list(plugin.allowed_stages),
                    "fixed_stages": list(plugin.fixed_stages),
                    "settings_schema": serializer_schema(plugin.settings_serializer()),
                }
                for plugin in registry.all()
            ]
        )
