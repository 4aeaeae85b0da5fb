"""Compile plugin configurations into per-stage chains and run a stage for one request."""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import gevent

from plugins.base import Plugin
from plugins.models import STAGES
from plugins.ordering import REQUEST_STAGE, Role, first_conflict, in_steps, rewriters_first
from plugins.registry import registry
from plugins.sdk.context import PluginRejection, PluginResponse, RequestContext, ResponseContext
from plugins.sdk.streams.channels import StreamCut
from plugins.sdk.streams.text_filter import StreamStop

logger = logging.getLogger(__name__)

RESPONSE_STAGES = ("post_request", "pre_response", "post_response")
# Not a configurable stage: the step a CORS preflight runs before authentication, made of the
# pre_request plugins that override Plugin.pre_auth, in their pre_request order.
PRE_AUTH = "pre_auth"


class PluginFailure(Exception):
    """A plugin crashed and its configuration does not allow failing open."""

    def __init__(self, plugin: Plugin, error: BaseException) -> None:
        super().__init__(f"plugin {plugin.name} ({plugin.instance_id}) failed: {error!r}")
        self.plugin = plugin


@dataclass(frozen=True)
class PluginSpec:
    """One configured plugin, as the snapshot reads it from the database."""

    id: str
    level: str
    name: str
    enabled: bool
    stage: str
    priority: int
    parallel: bool
    settings: Mapping[str, Any]


# A stage is a sequence of steps; a step is one plugin, or several that run concurrently.
Step = tuple[Plugin, ...]


@dataclass(frozen=True)
class CompiledChain:
    """The immutable plugin chain of one rule: steps per stage (and the PRE_AUTH step), built
    once per config version."""

    stages: Mapping[str, tuple[Step, ...]]
    chunk_plugins: tuple[Plugin, ...]
    stream_plugins: tuple[Plugin, ...] = ()  # response-stage plugins with a stream_filter
    cache_plugins: tuple[Plugin, ...] = ()  # plugins with a cache_lookup (a response cache)

    def has(self, stage: str) -> bool:
        return bool(self.stages.get(stage))

    @functools.cached_property
    def inspects_answers(self) -> bool:
        """Whether a plugin sees the upstream's answer: one in a response stage (chunk and
        stream hooks are those plugins' too), or a response cache (which keeps it)."""
        return bool(self.cache_plugins) or any(self.stages.get(stage) for stage in RESPONSE_STAGES)


def build_plugin(spec: PluginSpec) -> Plugin:
    """The plugin of `spec`, built with the typed Config of its stored settings (validated and
    normalised when written: the serializer does not run again here)."""
    plugin_class = registry.get(spec.name)
    if plugin_class is None:
        raise LookupError(f"plugin {spec.name!r} is configured but not registered")
    config = plugin_class.config_from(spec.settings)
    return plugin_class(instance_id=spec.id, level=spec.level, stage=spec.stage, config=config)


def _steps(plugins: Sequence[tuple[PluginSpec, Plugin]], stage: str) -> list[Step]:
    """Steps of one level in a stage: by priority; parallel plugins of one priority together."""
    return in_steps((spec, plugin) for spec, plugin in plugins if stage in plugin.stages)


def _role(plugin: Plugin) -> Role:
    rewrites = type(plugin).rewrites_request_with(plugin.config)
    return Role(plugin.name, rewrites, plugin.sends_content_out)


def compile_chain(levels: Iterable[Sequence[PluginSpec]]) -> CompiledChain:
    """Chain of the given levels (gateway first, then rule), enabled plugins only. Chains are
    checked against the order rule when written (plugins.ordering); one stored before it is
    run under it anyway: request rewriters alone and before any plugin that sends out."""
    built = [[(spec, build_plugin(spec)) for spec in level if spec.enabled] for level in levels]
    stages = {
        stage: tuple(step for level in built for step in _steps(level, stage)) for stage in STAGES
    }
    request_steps = rewriters_first(stages[REQUEST_STAGE], _role)
    if request_steps != stages[REQUEST_STAGE]:
        logger.warning(
            "plugin chain breaks the order rule (%s); request rewriters run first",
            first_conflict([tuple(map(_role, step)) for step in stages[REQUEST_STAGE]]),
        )
        stages[REQUEST_STAGE] = request_steps
    stages[PRE_AUTH] = tuple(
        (plugin,)
        for step in stages["pre_request"]
        for plugin in step
        if type(plugin).pre_auth is not Plugin.pre_auth
    )
    return CompiledChain(
        stages=stages,
        chunk_plugins=_response_plugins_overriding(built, "on_chunk"),
        stream_plugins=_response_plugins_overriding(built, "stream_filter"),
        cache_plugins=tuple(
            plugin
            for level in built
            for _, plugin in level
            if type(plugin).cache_lookup is not Plugin.cache_lookup
        ),
    )


def _response_plugins_overriding(
    built: list[list[tuple[PluginSpec, Plugin]]], hook: str
) -> tuple[Plugin, ...]:
    """Plugins of a response stage that implement `hook`, in chain order (by level, priority)."""
    in_order = [
        plugin
        for level in built
        for _, plugin in sorted(level, key=lambda item: item[0].priority)
        if any(stage in RESPONSE_STAGES for stage in plugin.stages)
    ]
    return tuple(p for p in in_order if getattr(type(p), hook) is not getattr(Plugin, hook))


EMPTY_CHAIN = CompiledChain(stages={stage: () for stage in (*STAGES, PRE_AUTH)}, chunk_plugins=())


def _call(
    plugin: Plugin, stage: str, request: RequestContext, response: ResponseContext | None
) -> None:
    """One hook; its decision is recorded in `request.verdicts` (and, traced, its run)."""
    trace = request.trace
    if trace is None:
        _decide(plugin, stage, request, response)
        return
    started = time.time_ns()
    try:
        _decide(plugin, stage, request, response)
    finally:
        trace.plugin_ran(plugin, stage, _verdict_of(request, plugin, stage), started)


def _verdict_of(request: RequestContext, plugin: Plugin, stage: str) -> str:
    """The verdict `plugin` recorded last in `stage` (parallel plugins record theirs between)."""
    for name, verdict_stage, verdict in reversed(request.verdicts):
        if name == plugin.name and verdict_stage == stage:
            return verdict
    return "fail"  # interrupted before it decided


def _decide(
    plugin: Plugin, stage: str, request: RequestContext, response: ResponseContext | None
) -> None:
    """The hook itself, its decision appended to `request.verdicts`."""
    hook = getattr(plugin, stage)
    verdicts = request.verdicts
    try:
        if response is None:
            hook(request)
        else:
            hook(request, response)
    except PluginResponse:
        verdicts.append((plugin.name, stage, "answer"))
        raise
    except PluginRejection:
        verdicts.append((plugin.name, stage, "reject"))
        raise
    except Exception as exc:
        if plugin.fails_open_on(stage, exc):
            verdicts.append((plugin.name, stage, "fail_open"))
            logger.exception(
                "plugin %s (%s) failed in %s; failing open", plugin.name, plugin.instance_id, stage
            )
            return
        verdicts.append((plugin.name, stage, "fail"))
        logger.exception("plugin %s (%s) failed in %s", plugin.name, plugin.instance_id, stage)
        raise PluginFailure(plugin, exc) from exc
    verdicts.append((plugin.name, stage, "continue"))


def run_stage(
    chain: CompiledChain,
    stage: str,
    request: RequestContext,
    response: ResponseContext | None = None,
) -> None:
    """Run every step of `stage`; raises PluginResponse, PluginRejection or PluginFailure to
    stop the request."""
    for step in chain.stages[stage]:
        if len(step) == 1:
            _call(step[0], stage, request, response)
            continue
        greenlets = [gevent.spawn(_call, plugin, stage, request, response) for plugin in step]
        gevent.joinall(greenlets)
        for greenlet in greenlets:  # first error of the step, in configuration order
            if greenlet.exception is not None:
                raise greenlet.exception


def transform_chunk(chain: CompiledChain, request: RequestContext, chunk: bytes) -> bytes:
    """Pass a streamed body chunk through the chunk hooks of response-stage plugins. A hook
    that raises StreamStop, or crashes and does not fail open, cuts the stream (StreamCut); one
    that fails open passes the chunk on as it was, logged."""
    for plugin in chain.chunk_plugins:
        try:
            chunk = plugin.on_chunk(request, chunk)
        except StreamStop as stop:
            raise StreamCut(stop.message, stop.kind, plugin.name, "reject") from stop
        except Exception as exc:
            if plugin.fails_open_on(plugin.stage, exc):
                request.verdicts.append((plugin.name, "stream", "fail_open"))
                logger.exception(
                    "plugin %s (%s) failed on a streamed chunk; failing open",
                    plugin.name,
                    plugin.instance_id,
                )
                continue
            logger.exception(
                "plugin %s (%s) failed on a streamed chunk", plugin.name, plugin.instance_id
            )
            raise StreamCut(plugin.stream_error_message, plugin.name, plugin.name) from exc
    return chunk
