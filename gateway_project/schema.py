"""The admin API's OpenAPI schema: operator-facing descriptions (never code docstrings), the
JSON error answers of every operation, and UUID path parameters."""

from __future__ import annotations

import copy
from typing import Any

from drf_spectacular.openapi import AutoSchema
from drf_spectacular.plumbing import force_instance
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework import serializers

from gateway_project.pagination import MAX_PAGE_SIZE

UUID_PATH_PARAMETERS = ("gateway_id", "object_id")
ACTION_DESCRIPTIONS = {
    "list": f"List the {{plural}} (paginated: `limit`, at most {MAX_PAGE_SIZE}, and `offset`).",
    "create": "Create {a_name}.",
    "retrieve": "Get one {name}.",
    "update": "Change {a_name}: fields left out keep their value (as PATCH, as TrustGate).",
    "partial_update": "Change some fields of {a_name}.",
    "destroy": "Delete {a_name}.",
}
RESOURCE_NAMES = {"api-key": "API key"}  # router basename -> words, where they differ
# (router basename, action) pairs whose writes can conflict with existing state.
CONFLICTS = {
    ("gateway", "create"): "the subdomain is taken",
    ("gateway", "update"): "the subdomain is taken",
    ("gateway", "partial_update"): "the subdomain is taken",
    ("service", "create"): "a service of the gateway has the name",
    ("service", "update"): "a service of the gateway has the name",
    ("service", "partial_update"): "a service of the gateway has the name",
    ("upstream", "destroy"): "a service still uses the upstream",
    ("service", "destroy"): "a rule still uses the service",
}


class ErrorSerializer(serializers.Serializer):
    error = serializers.CharField(help_text="What went wrong.")


class ValidationErrorSerializer(ErrorSerializer):
    def get_fields(self) -> dict[str, serializers.Field]:
        return {
            **super().get_fields(),
            "fields": serializers.DictField(
                required=False,
                help_text="The refused fields, each with its messages (nested as the body is); "
                "absent when the body is not valid JSON.",
            ),
        }


class GatewayAutoSchema(AutoSchema):
    def get_description(self) -> str:
        """Descriptions come from `extend_schema(description=...)`, else from the action."""
        template = ACTION_DESCRIPTIONS.get(getattr(self.view, "action", None) or "")
        basename = getattr(self.view, "basename", None)
        if template is None or basename is None:
            return ""
        name = RESOURCE_NAMES.get(basename, basename)
        article = "an" if name[0].lower() in "aeiou" else "a"
        description = template.format(name=name, a_name=f"{article} {name}", plural=f"{name}s")
        paginator = self._get_paginator() if self.view.action == "list" else None
        if getattr(paginator, "trustgate_key", None):
            description += " " + paginator.trustgate_description()
        return description

    def get_override_parameters(self) -> list[Any]:
        typed = [
            OpenApiParameter(name, OpenApiTypes.UUID, OpenApiParameter.PATH)
            for name in UUID_PATH_PARAMETERS
            if "{" + name + "}" in self.path
        ]
        return [*typed, *super().get_override_parameters()]

    def _get_request_body(self, direction: str = "request") -> dict[str, Any] | None:
        """A DELETE documents its body when the view takes one (DELETE /api/v1/plugins)."""
        if self._delete_takes_a_body():
            self.method = "POST"  # drf-spectacular documents bodies of unsafe methods only
            try:
                return super()._get_request_body(direction)
            finally:
                self.method = "DELETE"
        return super()._get_request_body(direction)

    def _get_request_for_media_type(self, serializer: Any, direction: str = "request") -> Any:
        """A partial PUT (every admin viewset) documents the PATCH body, nothing required."""
        if self.method == "PUT" and getattr(self.view, "partial_put", False):
            serializer = copy.copy(force_instance(serializer))
            serializer.partial = True
        return super()._get_request_for_media_type(serializer, direction)

    def _delete_takes_a_body(self) -> bool:
        return self.method == "DELETE" and getattr(self.view, "delete_takes_a_body", False)

    def _map_basic_serializer(self, serializer: Any, direction: str) -> dict[str, Any]:
        schema = super()._map_basic_serializer(serializer, direction)
        if not getattr(getattr(serializer, "Meta", None), "description", None):
            schema.pop("description", None)  # a class docstring is for developers
        return schema

    def _get_response_bodies(self, direction: str = "response") -> dict[str, Any]:
        responses = super()._get_response_bodies(direction)
        for code, serializer, description in self.error_responses():
            responses.setdefault(code, self._error_response(serializer, code, description))
        return responses

    def _error_response(self, serializer: Any, code: str, description: str) -> dict[str, Any]:
        response = self._get_response_for_code(serializer, code)
        response["description"] = description
        return response

    def error_responses(self) -> list[tuple[str, Any, str]]:
        errors = [
            ("401", ErrorSerializer, "No valid admin token or staff session."),
            ("403", ErrorSerializer, "The user is not staff."),
        ]
        takes_body = self.method in {"POST", "PUT", "PATCH"} or self._delete_takes_a_body()
        if takes_body and self.get_request_serializer() is not None:
            errors += [
                ("400", ValidationErrorSerializer, "Invalid body: `fields` names each problem."),
                ("413", ErrorSerializer, "The body is larger than the admin API accepts."),
                ("415", ErrorSerializer, "The body is not JSON."),
            ]
        if "{" in self.path:
            errors.append(("404", ErrorSerializer, "No such gateway or object."))
        conflict = CONFLICTS.get(
            (getattr(self.view, "basename", None), getattr(self.view, "action", None))
        )
        if conflict:
            errors.append(("409", ErrorSerializer, f"Conflict: {conflict}."))
        return errors
