"""The adapter of each provider of the catalogue, built from the class its table entry names."""

from __future__ import annotations

from collections.abc import Mapping

from django.utils.module_loading import import_string

from gateways.providers import PROVIDERS
from proxy.llm.base import Adapter

ADAPTERS: Mapping[str, Adapter] = {
    name: import_string(provider.adapter)() for name, provider in PROVIDERS.items()
}
