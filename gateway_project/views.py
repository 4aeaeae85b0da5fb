"""Admin views of the project itself: GET /api/v1/version."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway_project import __version__


class VersionView(APIView):
    @extend_schema(
        description="The version of the gateway (admin credentials required).",
        responses={
            200: inline_serializer("Version", {"version": serializers.CharField()}),
        },
    )
    def get(self, request: Request) -> Response:
        return Response({"version": __version__})
