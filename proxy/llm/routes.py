"""The LLM side of a compiled rule: its provider targets' settings, the models it serves."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from proxy.balancer import Target
from proxy.llm.wire import TargetOptions

PASSTHROUGH = "passthrough"


@dataclass(frozen=True)
class LLMRoute:
    """`translates`: the rule is an OpenAI-compatible front (its targets translate); else the
    client speaks the provider's own API (passthrough)."""

    options: Mapping[str, TargetOptions]  # by target key
    translates: bool
    models: tuple[str, ...]  # every model a target serves, in target order
    models_answer: bytes  # GET .../models
    owners: Mapping[str, str]  # model -> provider of the first target serving it

    def serves(self, model: str) -> bool:
        return model in self.owners

    def provider_of(self, model: str | None) -> str:
        """The provider a request for `model` goes to first (the first target's without one)."""
        return self.owners.get(model or "", next(iter(self.owners.values())))


def llm_route(targets: Sequence[Target], stored: Sequence[Mapping[str, Any]]) -> LLMRoute | None:
    """The LLM route of a rule whose upstream has provider targets (None otherwise)."""
    options = {
        target.key: TargetOptions(
            mode=data.get("mode") or "translate",
            deployments=dict(data.get("deployments") or {}),
            api_version=data.get("api_version") or "",
            api=(data.get("provider_options") or {}).get("api") or "",
        )
        for target, data in zip(targets, stored, strict=True)
        if target.provider
    }
    if not options:
        return None
    models = tuple(dict.fromkeys(m for t in targets if t.provider for m in t.models))
    owners = {m: t.provider for t in reversed(targets) if t.provider for m in t.models}
    listing = {
        "object": "list",
        "data": [{"id": m, "object": "model", "created": 0, "owned_by": owners[m]} for m in models],
    }
    return LLMRoute(
        options=options,
        translates=any(o.mode != PASSTHROUGH for o in options.values()),
        models=models,
        models_answer=json.dumps(listing).encode(),
        owners=owners,
    )
