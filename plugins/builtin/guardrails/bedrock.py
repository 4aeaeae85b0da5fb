"""bedrock_guardrail: Amazon Bedrock ApplyGuardrail, signed with SigV4 (botocore's signer), on
prompts and answers; an intervention is a 403, or in mode `mask` the masked text is forwarded."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from rest_framework import serializers

from gateway_project.fields import BaseURLField
from gateway_project.serializers import StrictSerializer
from gateway_project.upstream_deny import refuse_denied_address
from plugins.builtin.guardrails.base import (
    ActionsSerializer,
    GuardrailConfig,
    GuardrailSettingsSerializer,
    RemoteGuardrail,
    Verdict,
)
from plugins.builtin.guardrails.client import GuardrailUnavailable, call_json
from plugins.sdk.context import RequestContext

DEFAULT_MESSAGE = "content blocked by guardrail"
REGION_RE = r"^[a-z]{2}(-[a-z]+)+-\d+$"
VERSION_RE = r"^([1-9][0-9]{0,7}|DRAFT)$"
MASKING = frozenset({"ANONYMIZED", "NONE"})  # assessment actions that do not block


@dataclass(frozen=True, kw_only=True)
class AWSCredentials:
    aws_access_key_id: str
    aws_secret_access_key: str
    aws_session_token: str | None = None


@dataclass(frozen=True, kw_only=True)
class BedrockGuardrailConfig(GuardrailConfig):
    guardrail_id: str
    version: str = "DRAFT"
    region: str
    credentials: AWSCredentials
    endpoint: str | None = None  # https://bedrock-runtime.<region>.amazonaws.com
    mode: str = "block"


class AWSCredentialsSerializer(StrictSerializer):
    unknown_key_message = "Unknown credential."
    # TrustGate's names: its role assumption, and its other spelling of the keys and region.
    not_supported_yet = frozenset(
        {"use_role", "role_arn", "session_name", "aws_access_key", "aws_secret_key", "aws_region"}
    )
    aws_access_key_id = serializers.CharField(max_length=128)
    aws_secret_access_key = serializers.CharField(max_length=256)
    aws_session_token = serializers.CharField(required=False, max_length=4000)


class BedrockGuardrailSettingsSerializer(GuardrailSettingsSerializer):
    guardrail_id = serializers.CharField(max_length=2048, help_text="Identifier or ARN.")
    version = serializers.RegexField(
        VERSION_RE, default=BedrockGuardrailConfig.version, max_length=8
    )
    region = serializers.RegexField(REGION_RE, max_length=50)
    credentials = AWSCredentialsSerializer()
    endpoint = BaseURLField(
        required=False,
        validators=[refuse_denied_address],
        help_text="Default https://bedrock-runtime.<region>.amazonaws.com.",
    )
    mode = serializers.ChoiceField(
        choices=["block", "mask"],
        default=BedrockGuardrailConfig.mode,
        help_text="mask: forward the guardrail's masked text when it only anonymised.",
    )
    actions = ActionsSerializer(required=False)


class BedrockGuardrailPlugin(RemoteGuardrail):
    name = "bedrock_guardrail"
    label = "Bedrock Guardrail"
    description = "Checks prompts and answers with an Amazon Bedrock guardrail (ApplyGuardrail)."
    settings_serializer = BedrockGuardrailSettingsSerializer
    Config = BedrockGuardrailConfig
    config: BedrockGuardrailConfig
    secret_settings = (
        "credentials.aws_access_key_id",
        "credentials.aws_secret_access_key",
        "credentials.aws_session_token",
    )

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        self.signer = sigv4_signer(config.credentials, config.region)
        base = config.endpoint or f"https://bedrock-runtime.{config.region}.amazonaws.com"
        guardrail, version = quote(config.guardrail_id, safe=""), config.version
        self.url = f"{base.rstrip('/')}/guardrail/{guardrail}/version/{version}/apply"
        self.mask = config.mode == "mask"
        self.message: str = config.actions.message or DEFAULT_MESSAGE

    def check(self, texts: Sequence[str], *, source: str, request: RequestContext) -> Verdict:
        body = json.dumps(
            {"source": source, "content": [{"text": {"text": text}} for text in texts]}
        ).encode()
        answer = call_json(
            "POST", self.url, timeout=self.timeout, headers=self.signed(body), data=body
        )
        if not isinstance(answer, dict) or "action" not in answer:
            raise GuardrailUnavailable("answered without an action")
        if answer["action"] != "GUARDRAIL_INTERVENED":
            return Verdict()
        assessments = answer.get("assessments") or []
        kinds = tuple(sorted({policy for policy, _ in assessment_actions(assessments)}))
        outputs = [o.get("text") for o in answer.get("outputs") or [] if isinstance(o, dict)]
        outputs = [text for text in outputs if isinstance(text, str)]
        actions = [action for _, action in assessment_actions(assessments)]
        masked_only = "ANONYMIZED" in actions and all(action in MASKING for action in actions)
        if self.mask and masked_only and len(outputs) == len(texts):
            return Verdict(replacements=tuple(outputs), kinds=kinds)
        return Verdict(flagged=True, message=self.message, kinds=kinds)

    def signed(self, body: bytes) -> dict[str, str]:
        """The headers of a SigV4-signed POST of `body` to the guardrail (signed per call:
        the signature covers the time)."""
        from botocore.awsrequest import AWSRequest  # loaded with the signer (sigv4_signer)

        request = AWSRequest(
            method="POST",
            url=self.url,
            data=body,
            headers={"Content-Type": "application/json", "Accept": "application/json"},
        )
        self.signer.add_auth(request)
        return dict(request.headers.items())

    def masked_stream_message(self) -> str:
        return self.message


def sigv4_signer(keys: AWSCredentials, region: str) -> Any:
    """botocore's SigV4 signer for Bedrock in `region`. botocore is imported here, when a
    bedrock_guardrail chain is built, not when every worker starts (it weighs ~70 ms)."""
    from botocore.auth import SigV4Auth
    from botocore.credentials import Credentials

    credentials = Credentials(
        keys.aws_access_key_id, keys.aws_secret_access_key, keys.aws_session_token
    )
    return SigV4Auth(credentials, "bedrock", region)


def assessment_actions(value: Any, policy: str = "") -> Iterator[tuple[str, str]]:
    """(policy, action) of every finding in the assessments (topicPolicy, contentPolicy,
    wordPolicy, sensitiveInformationPolicy, contextualGroundingPolicy...)."""
    if isinstance(value, dict):
        for key, item in value.items():
            if key == "action" and isinstance(item, str):
                yield policy, item
            else:
                yield from assessment_actions(item, key if key.endswith("Policy") else policy)
    elif isinstance(value, list):
        for item in value:
            yield from assessment_actions(item, policy)
