"""Admin API for the API keys of a gateway: create, list, retrieve, update, revoke, rotate, set
their policies, the TrustGate list of keys showing only their prefix (`/public-keys`), and what
keys and gateways spent."""

from __future__ import annotations

import uuid
from functools import cached_property
from typing import Any

from drf_spectacular.utils import OpenApiResponse, extend_schema, extend_schema_view
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.exceptions import ValidationError
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from gateway_project.pagination import (
    MAX_PAGE_SIZE,
    TRUSTGATE_RENDERERS,
    LenientFormatNegotiation,
    trustgate_pagination,
)
from gateway_project.schema import ValidationErrorSerializer
from gateway_project.serializers import StrictSerializer
from gateways.models import Gateway
from gateways.selectors import gateway_get
from keys import selectors, services, spend
from keys.budgets import NANOS, Budget, budgets_used
from keys.models import ApiKey
from keys.serializers import (
    ApiKeySerializer,
    ApiKeyWithSecretSerializer,
    GatewaySpendSerializer,
    IamApiKeySerializer,
    IamApiKeyWithSecretSerializer,
    IamPublicApiKeySerializer,
    KeySpendSerializer,
    PoliciesSerializer,
    PublicApiKeySerializer,
    SpendQuerySerializer,
    SubjectQuerySerializer,
)

BAD_QUERY = OpenApiResponse(ValidationErrorSerializer, description="`fields` names each problem.")
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


def policies_set(view: viewsets.GenericViewSet, request: Request) -> ApiKey:
    """`PUT .../{key_id}/policies` of either key API: the key with the rules it may use."""
    api_key = view.get_object()
    serializer = PoliciesSerializer(data=request.data, context=view.get_serializer_context())
    serializer.is_valid(raise_exception=True)
    return services.api_key_update(api_key=api_key, **serializer.validated_data)


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
        api_key = policies_set(self, request)
        return Response(ApiKeySerializer(api_key, context=self.get_serializer_context()).data)

    @extend_schema(
        description="What the key spent (flushed first): its total and by model and day, over "
        "`from`..`to` (UTC days, inclusive); its budget's current window from Redis.",
        parameters=[SpendQuerySerializer],
        responses={200: KeySpendSerializer, 400: BAD_QUERY},
    )
    @action(detail=True, methods=["get"])
    def spend(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        api_key = self.get_object()
        query = validated_query(request)
        spend.spend_flush(gateway_ids=[str(self.gateway.pk)])
        rows = spend.spend_rows(
            gateway_id=self.gateway.pk,
            api_key_id=str(api_key.pk),
            since=query.get("from"),
            until=query.get("to"),
        )
        return Response(
            {
                "key_id": str(api_key.pk),
                "total": spend.spend_total(rows),
                "by_model": spend.spend_grouped(rows, "model"),
                "by_day": spend.spend_grouped(rows, "day"),
                "budget": budget_status(api_key),
            }
        )

    def perform_destroy(self, instance: ApiKey) -> None:
        services.api_key_revoke(api_key=instance)

    @staticmethod
    def _with_secret(api_key: ApiKey, secret: str, code: int) -> Response:
        api_key.key = secret
        return Response(ApiKeyWithSecretSerializer(api_key).data, status=code)


def validated_query(request: Request) -> dict[str, Any]:
    query = request.query_params.dict()
    query.pop("format", None)  # DRF's own (?format=json)
    serializer = SpendQuerySerializer(data=query)
    serializer.is_valid(raise_exception=True)
    return serializer.validated_data


def budget_status(api_key: ApiKey) -> dict[str, Any] | None:
    """The key's budget and what its current window holds (spent and still reserved)."""
    budget = Budget.of(f"key:{api_key.pk}", api_key.max_budget_usd, api_key.budget_duration)
    if budget is None:
        return None
    used = budgets_used(gateway_id=str(api_key.gateway_id), budget=budget)
    return {
        "max_budget_usd": budget.limit_nanos / NANOS,
        "budget_duration": budget.duration,
        "used_usd": used / NANOS,
        "remaining_usd": max(budget.limit_nanos - used, 0) / NANOS,
    }


class GatewaySpendView(APIView):
    """`GET /api/v1/gateways/{id}/spend?group_by=key|model|provider|day&from=&to=`."""

    @extend_schema(
        description="The gateway's LLM spend (flushed from Redis first) over `from`..`to` (UTC "
        "days, inclusive), grouped by key, model, provider or day.",
        parameters=[SpendQuerySerializer],
        responses={200: GatewaySpendSerializer, 400: BAD_QUERY},
    )
    def get(self, request: Request, gateway_id: str) -> Response:
        gateway = gateway_get(gateway_id=gateway_id)
        query = validated_query(request)
        spend.spend_flush(gateway_ids=[str(gateway.pk)])
        rows = spend.spend_rows(
            gateway_id=gateway.pk, since=query.get("from"), until=query.get("to")
        )
        return Response(
            {
                "gateway_id": str(gateway.pk),
                "group_by": query["group_by"],
                "total": spend.spend_total(rows),
                "spend": spend.spend_grouped(rows, query["group_by"]),
            }
        )


class IamApiKeyViewSet(
    mixins.RetrieveModelMixin,
    mixins.DestroyModelMixin,
    viewsets.GenericViewSet,
):
    """TrustGate E2's `/api/v1/iam/api-keys`: keys whose `subject` is their gateway."""

    serializer_class = IamApiKeySerializer
    lookup_url_kwarg = "key_id"
    lookup_value_regex = "[0-9a-fA-F-]{36}"
    renderer_classes = TRUSTGATE_RENDERERS
    content_negotiation_class = LenientFormatNegotiation
    pagination_class = None  # E2 lists a subject's keys whole
    queryset = ApiKey.objects.all()

    def subject(self, gateway_id: Any) -> Gateway:
        """The gateway a body names as `subject` (400 naming it when it is not one)."""
        try:
            return Gateway.objects.get(pk=uuid.UUID(str(gateway_id)))
        except (ValueError, Gateway.DoesNotExist) as exc:
            raise ValidationError({"subject": ["No such gateway."]}) from exc

    def get_serializer_context(self) -> dict[str, Any]:
        context = super().get_serializer_context()
        if self.kwargs.get("key_id"):
            context["gateway"] = self.get_object().gateway
        return context

    @extend_schema(
        description="Create a key of the gateway named by `subject`; the plain `key` is in "
        "this response only.",
        responses={201: IamApiKeyWithSecretSerializer},
    )
    def create(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        body = request.data if isinstance(request.data, dict) else {}
        gateway = self.subject(body.get("subject"))
        serializer = IamApiKeySerializer(
            data=request.data, context={**super().get_serializer_context(), "gateway": gateway}
        )
        serializer.is_valid(raise_exception=True)
        fields = {
            name: value
            for name, value in serializer.validated_data.items()
            if name not in ("subject_type", "gateway_id")
        }
        api_key, secret = services.api_key_create(gateway=gateway, **fields)
        api_key.key = secret
        return Response(IamApiKeyWithSecretSerializer(api_key).data, status=status.HTTP_201_CREATED)

    @extend_schema(
        description="The keys of a subject (gateway); each `key` shows only its prefix.",
        parameters=[SubjectQuerySerializer],
        responses={200: IamPublicApiKeySerializer(many=True), 400: BAD_QUERY},
    )
    @action(detail=False, methods=["get"])
    def public(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        data = request.query_params.dict()
        data.pop("format", None)  # DRF's own (?format=json)
        query = SubjectQuerySerializer(data=data)
        query.is_valid(raise_exception=True)
        keys = selectors.api_key_list(gateway_id=query.validated_data["subject_id"])
        return Response(IamPublicApiKeySerializer(keys, many=True).data)

    @extend_schema(
        description="Set the rules the key may use; [] allows all.",
        request=PoliciesSerializer,
    )
    @action(detail=True, methods=["put"])
    def policies(self, request: Request, *args: Any, **kwargs: Any) -> Response:
        return Response(IamApiKeySerializer(policies_set(self, request)).data)

    def perform_destroy(self, instance: ApiKey) -> None:
        services.api_key_revoke(api_key=instance)
