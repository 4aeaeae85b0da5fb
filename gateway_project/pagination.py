"""Pagination of admin API lists: `?limit=` (default 10) is clamped to MAX_PAGE_SIZE.

A list can also answer in TrustGate's shape (`{"gateways": [...], "count", "offset", "limit"}`)
when the client asks with `?format=trustgate` or `Accept: application/json; profile=trustgate`.
"""

from __future__ import annotations

from typing import Any, ClassVar

from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.utils.mediatypes import _MediaType

MAX_PAGE_SIZE = 500
TRUSTGATE = "trustgate"


class TrustGateJSONRenderer(JSONRenderer):
    """JSON, selected by `?format=trustgate`: lists then answer in TrustGate's shape."""

    format = TRUSTGATE


# The renderers of views whose lists have a TrustGate shape.
TRUSTGATE_RENDERERS = [*api_settings.DEFAULT_RENDERER_CLASSES, TrustGateJSONRenderer]


class LenientFormatNegotiation(DefaultContentNegotiation):
    """An unknown `?format=` is ignored (DRF answers 404): the Accept header decides."""

    def filter_renderers(self, renderers: list[Any], format: str) -> list[Any]:
        return [renderer for renderer in renderers if renderer.format == format] or renderers


def wants_trustgate_shape(request: Request) -> bool:
    renderer = getattr(request, "accepted_renderer", None)
    if getattr(renderer, "format", None) == TRUSTGATE:
        return True
    accepted = _MediaType(getattr(request, "accepted_media_type", None))
    return accepted.params.get("profile") == TRUSTGATE


class AdminPagination(LimitOffsetPagination):
    default_limit = 10
    max_limit = MAX_PAGE_SIZE
    limit_query_description = (
        f"Results per page (default 10). Larger values are served as {MAX_PAGE_SIZE}."
    )
    # TrustGate's list key (e.g. "gateways"); None: the list has only DRF's shape.
    trustgate_key: ClassVar[str | None] = None
    trustgate_fields: ClassVar[tuple[str, ...]] = ("count", "offset", "limit")
    trustgate_default_limit: ClassVar[int] = 10
    trustgate_only: ClassVar[bool] = False  # a TrustGate endpoint: its shape, always

    def paginate_queryset(self, queryset: Any, request: Request, view: Any = None) -> Any:
        self.trustgate = self.trustgate_key is not None and (
            self.trustgate_only or wants_trustgate_shape(request)
        )
        return super().paginate_queryset(queryset, request, view)

    def get_limit(self, request: Request) -> int | None:
        if self.trustgate and self.limit_query_param not in request.query_params:
            return self.trustgate_default_limit
        return super().get_limit(request)

    def get_paginated_response(self, data: Any) -> Response:
        if not self.trustgate:
            return super().get_paginated_response(data)
        values = {"count": self.count, "offset": self.offset, "limit": self.limit}
        return Response({self.trustgate_key: data, **{f: values[f] for f in self.trustgate_fields}})

    def get_paginated_response_schema(self, schema: dict[str, Any]) -> dict[str, Any]:
        default = super().get_paginated_response_schema(schema)
        if self.trustgate_key is None:
            return default
        trustgate = {
            "type": "object",
            "required": [self.trustgate_key, *self.trustgate_fields],
            "properties": {
                self.trustgate_key: schema,
                **{field: {"type": "integer"} for field in self.trustgate_fields},
            },
        }
        return trustgate if self.trustgate_only else {"oneOf": [default, trustgate]}

    @classmethod
    def trustgate_description(cls) -> str:
        """How a client asks for the TrustGate shape (the OpenAPI description of the list)."""
        shape = (
            f'`{{"{cls.trustgate_key}": [...]'
            + "".join(f', "{f}"' for f in cls.trustgate_fields)
            + "}`"
        )
        if cls.trustgate_only:
            return f"TrustGate's shape: {shape}."
        return (
            f"`?format={TRUSTGATE}` or `Accept: application/json; profile={TRUSTGATE}` answers "
            f"in TrustGate's shape, {shape}."
        )


def trustgate_pagination(
    key: str,
    *,
    fields: tuple[str, ...] = AdminPagination.trustgate_fields,
    default_limit: int = AdminPagination.trustgate_default_limit,
    only: bool = False,
) -> type[AdminPagination]:
    """The pagination of a list TrustGate clients read as `{key: [...], *fields}`."""
    attributes = {
        "trustgate_key": key,
        "trustgate_fields": fields,
        "trustgate_default_limit": default_limit,
        "trustgate_only": only,
    }
    return type(f"{key.title().replace('_', '')}Pagination", (AdminPagination,), attributes)
