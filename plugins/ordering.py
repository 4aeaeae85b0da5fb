"""The order of a stage's plugins, and the order rule: no plugin that sends content out of the
gateway sees the request before a plugin that rewrites it (masking, sanitising) is done."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import Any, Protocol, TypeVar

from rest_framework import serializers

from plugins.base import Plugin
from plugins.configs import ConfigError
from plugins.models import PluginConfig
from plugins.registry import registry

T = TypeVar("T")
REQUEST_STAGE = "pre_request"
CHAIN_FIELDS = ("name", "enabled", "stage", "priority", "parallel", "settings")
Entry = Mapping[str, Any]  # a chain entry: validated input or a stored row's CHAIN_FIELDS


class Placed(Protocol):
    priority: int
    parallel: bool


@dataclass(frozen=True)
class Place:
    priority: int
    parallel: bool


@dataclass(frozen=True)
class Role:
    """What the order rule knows of a plugin in pre_request."""

    name: str
    rewrites: bool
    sends_out: bool


def in_steps(members: Iterable[tuple[Placed, T]]) -> list[tuple[T, ...]]:
    """The members of one level in one stage as steps: by priority; the parallel ones of a
    priority together, then the others of that priority one by one."""
    steps: list[tuple[T, ...]] = []
    ordered = sorted(members, key=lambda item: item[0].priority)
    for _, group in groupby(ordered, key=lambda item: item[0].priority):
        grouped = list(group)
        parallel = tuple(member for place, member in grouped if place.parallel)
        if parallel:
            steps.append(parallel)
        steps.extend((member,) for place, member in grouped if not place.parallel)
    return steps


def first_conflict(steps: Iterable[Sequence[Role]]) -> str | None:
    """The first breach of the order rule in the steps of a pre_request stage, as a sentence
    naming both plugins; None when there is none."""
    sent_out: list[str] = []
    for step in steps:
        for rewriter in (role for role in step if role.rewrites):
            beside = next(
                (r for r in step if r is not rewriter and (r.rewrites or r.sends_out)), None
            )
            if beside is not None:
                return (
                    f"Plugin {rewriter.name!r} rewrites the request, so it cannot run in parallel "
                    f"beside {beside.name!r}, which would see the request before the rewrite: "
                    f"give {rewriter.name!r} a lower priority."
                )
            if sent_out:
                return (
                    f"Plugin {sent_out[0]!r} would send the request out of the gateway before "
                    f"{rewriter.name!r} rewrites it: {rewriter.name!r} must run first in "
                    "pre_request (the gateway's plugins run before the rule's, each by priority)."
                )
        sent_out.extend(role.name for role in step if role.sends_out)
    return None


def rewriters_first(
    steps: Sequence[tuple[T, ...]], role: Callable[[T], Role]
) -> tuple[tuple[T, ...], ...]:
    """The pre_request steps of a compiled chain under the order rule (for chains stored before
    it): each rewriter alone in its step, and moved before the first plugin that sends out."""
    split: list[tuple[T, ...]] = []
    for step in steps:
        rewriters = [member for member in step if role(member).rewrites]
        if rewriters and len(step) > 1:
            split.extend((member,) for member in rewriters)
            rest = tuple(member for member in step if not role(member).rewrites)
            split.extend([rest] if rest else [])
        else:
            split.append(step)
    first_out = next(
        (i for i, step in enumerate(split) if any(role(m).sends_out for m in step)), len(split)
    )
    late = [step for step in split[first_out:] if role(step[0]).rewrites]
    rest = [step for step in split[first_out:] if not role(step[0]).rewrites]
    return (*split[:first_out], *late, *rest)


def chain_conflict(levels: Sequence[Sequence[Entry]]) -> str | None:
    """The first breach of the order rule in the chain made of `levels` (the gateway's entries,
    then a rule's), enabled plugins only."""
    steps: list[tuple[Role, ...]] = []
    for level in levels:
        members = []
        for entry in level:
            plugin_class = registry.get(entry["name"])
            if plugin_class is None or not entry.get("enabled", True):
                continue
            if REQUEST_STAGE not in (plugin_class.fixed_stages or (entry["stage"],)):
                continue
            rewrites = _rewrites(plugin_class, entry.get("settings") or {})
            role = Role(entry["name"], rewrites, plugin_class.sends_content_out)
            members.append((Place(entry.get("priority", 0), entry.get("parallel", False)), role))
        steps.extend(in_steps(members))
    return first_conflict(steps)


def _rewrites(plugin_class: type[Plugin], settings: Any) -> bool:
    try:
        config = plugin_class.config_from(settings)
    except ConfigError:  # a stored row that makes no Config: its chain is not compiled either
        return plugin_class.rewrites_request
    return plugin_class.rewrites_request_with(config)


def refuse_unsafe_gateway_chain(chain: Sequence[Entry], gateway_id: Any) -> None:
    """A gateway's `required_plugins` alone and before each of its rules' chains (`gateway_id`
    None: a new gateway, without rules); raises ValidationError naming both plugins."""
    rows = []
    if gateway_id is not None:
        rows = PluginConfig.objects.filter(rule__gateway_id=gateway_id).order_by("rule_id")
        rows = rows.values("rule_id", *CHAIN_FIELDS)
    rule_chains = [list(group) for _, group in groupby(rows, key=itemgetter("rule_id"))]
    for levels in ([chain], *([chain, rule_chain] for rule_chain in rule_chains)):
        _refuse(levels)


def refuse_unsafe_rule_chain(chain: Sequence[Entry], gateway_id: Any) -> None:
    """A rule's `plugin_chain` after its gateway's `required_plugins`; raises ValidationError
    naming both plugins."""
    gateway_chain = list(PluginConfig.objects.filter(gateway_id=gateway_id).values(*CHAIN_FIELDS))
    _refuse([gateway_chain, chain])


def _refuse(levels: Sequence[Sequence[Entry]]) -> None:
    message = chain_conflict(levels)
    if message is not None:
        raise serializers.ValidationError([message])
