"""The provider table is the one owner of each provider's facts: the adapters, usage fields and
finish reasons derive from it, and one builder makes every outgoing request."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest
from django.utils.module_loading import import_string

from gateways.providers import PROVIDERS
from proxy.llm import anthropic, bedrock, gemini
from proxy.llm.adapters import ADAPTERS
from proxy.llm.base import Adapter
from proxy.llm.usage import USAGE_FIELDS, merge_usage
from tests.builders import provider_target

HOST = "api.localhost"
ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_every_provider_of_the_table_has_its_adapter_under_its_name(name):
    adapter = ADAPTERS[name]
    assert isinstance(adapter, Adapter)
    assert type(adapter) is import_string(PROVIDERS[name].adapter)
    assert adapter.name == name


def test_the_adapters_are_the_tables():
    assert sorted(ADAPTERS) == sorted(PROVIDERS)


@pytest.mark.parametrize("name", sorted(PROVIDERS))
def test_each_providers_usage_is_read_under_its_table_names(name):
    provider = PROVIDERS[name]
    assert provider.usage_fields.items() <= USAGE_FIELDS.items()
    counts = {field: 7 + index for index, field in enumerate(provider.usage_fields)}
    usage: dict[str, int] = {}
    merge_usage(usage, {provider.usage_key: counts})
    expected = {provider.usage_fields[field]: value for field, value in counts.items()}
    assert usage == expected


@pytest.mark.parametrize(
    ("module", "name"), [(anthropic, "anthropic"), (bedrock, "bedrock"), (gemini, "google")]
)
def test_the_adapters_finish_reasons_are_the_tables(module, name):
    assert PROVIDERS[name].finish_reasons
    assert module.FINISH_REASONS is PROVIDERS[name].finish_reasons


def test_the_llm_exchange_builds_no_request_of_its_own():
    """Headers, credentials and the URL come from the one builder in proxy.outgoing."""
    tree = ast.parse((ROOT / "proxy" / "llm" / "exchange.py").read_text())
    imported = {
        alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.ImportFrom) and node.module == "proxy.outgoing"
        for alias in node.names
    }
    assert imported & {"inject_credentials", "outgoing_headers", "upstream_url"} == set()
    assert "build_outgoing" in imported


def test_a_translated_request_gets_the_headers_and_credentials_of_the_one_builder(
    route, upstream, proxy_client
):
    """Translated for Bedrock: the provider allow-list, the rule's and the target's headers,
    the credentials, then the signing hook over the finished request."""
    credentials = {
        "aws_access_key_id": "AKIAEXAMPLEEXAMPLE01",
        "aws_secret_access_key": "wJalrXUtnFEMI/K7MDENG",
        "aws_region": "eu-west-3",
    }
    target = provider_target(
        upstream.port, provider="bedrock", credentials=credentials, headers={"X-Tenant": "t1"}
    )
    gateway = route(path="/v1/*", targets=[target], headers={"X-Rule": "r1"})
    response = proxy_client.post(
        "/v1/chat/completions",
        json.dumps({"model": "m", "messages": [{"role": "user", "content": "hi"}]}),
        content_type="application/json",
        HTTP_HOST=HOST,
        HTTP_AUTHORIZATION=f"Bearer {gateway.key}",
        HTTP_COOKIE="session=secret",
        HTTP_X_AMZN_BEDROCK_TRACE="ENABLED",
    )
    assert response.status_code in (200, 502)
    seen = upstream.seen[-1]
    assert (seen.method, seen.path) == ("POST", "/model/m/converse")
    assert seen.headers["X-Tenant"] == "t1"
    assert seen.headers["X-Rule"] == "r1"
    assert seen.headers["X-Amzn-Bedrock-Trace"] == "ENABLED"
    assert seen.headers["Accept"] == "application/json"
    assert seen.headers["Accept-Encoding"] == "identity"
    assert "Cookie" not in seen.headers
    assert gateway.key not in seen.headers["Authorization"]
    assert seen.headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE")
    assert seen.headers["X-Amz-Date"]
