"""The provider table is the one owner of each provider's facts: the adapters, usage fields and
finish reasons derive from it."""

from __future__ import annotations

import pytest
from django.utils.module_loading import import_string

from gateways.providers import PROVIDERS
from proxy.llm import anthropic, bedrock, gemini
from proxy.llm.adapters import ADAPTERS
from proxy.llm.base import Adapter
from proxy.llm.usage import USAGE_FIELDS, merge_usage


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
