"""Typed plugin configs: built once from stored settings when a chain is compiled, without the
settings serializer; frozen; the serializers' defaults are the Configs' own."""

from __future__ import annotations

import dataclasses
import types
import typing
import uuid
from collections.abc import Mapping
from typing import Any, ClassVar

import pytest
from django.core.exceptions import ImproperlyConfigured
from rest_framework import serializers

from plugins.base import Plugin, PluginSettingsSerializer, RequestContext
from plugins.builtin.code_sanitation import CodeSanitationPlugin
from plugins.configs import Config, ConfigError, config_from, settings_of
from plugins.ordering import chain_conflict
from plugins.pipeline import PluginSpec, compile_chain
from plugins.registry import registry
from tests.plugins.helpers import make_plugin

PER_IP = {"per_ip": {"limit": 5, "window": "1m"}}


class CountingSettings(PluginSettingsSerializer):
    """Counts how often it validates (the write path runs it; compiling a chain must not)."""

    validations: ClassVar[int] = 0
    label = serializers.CharField()

    def validate(self, attrs: dict[str, Any]) -> dict[str, Any]:
        type(self).validations += 1
        return attrs


@dataclasses.dataclass(frozen=True, kw_only=True)
class CountingConfig(Config):
    label: str


class CountingPlugin(Plugin):
    name = "counting"
    category = "request_validation"
    allowed_stages = ("pre_request",)
    settings_serializer = CountingSettings
    Config = CountingConfig

    def pre_request(self, request: RequestContext) -> None:
        request.response_headers["X-Label"] = self.config.label


@pytest.fixture
def counting_plugin(settings):
    from gateway_project.conf import DEFAULTS

    path = f"{__name__}.CountingPlugin"
    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": [*DEFAULTS["PLUGINS"], path]}
    registry.load()
    yield
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


def spec(name: str, settings: Mapping[str, Any], priority: int = 1) -> PluginSpec:
    return PluginSpec(
        id=str(uuid.uuid4()),
        level="gateway",
        name=name,
        enabled=True,
        stage="pre_request",
        priority=priority,
        parallel=False,
        settings=settings,
    )


def built(name: str, settings: Mapping[str, Any]) -> Plugin:
    (step,) = compile_chain([[spec(name, settings)]]).stages["pre_request"]
    return step[0]


class ConfiglessPlugin(Plugin):
    """Settings without a Config of them: refused at start-up, not when a chain compiles."""

    name = "configless"
    category = "request_validation"
    allowed_stages = ("pre_request",)
    settings_serializer = CountingSettings


def test_a_plugin_whose_config_lacks_a_setting_stops_start_up(settings):
    from gateway_project.conf import DEFAULTS

    path = f"{__name__}.ConfiglessPlugin"
    settings.GATEWAY = {**settings.GATEWAY, "PLUGINS": [*DEFAULTS["PLUGINS"], path]}
    with pytest.raises(ImproperlyConfigured, match="its Config has no field label"):
        registry.load()
    settings.GATEWAY = {key: value for key, value in settings.GATEWAY.items() if key != "PLUGINS"}
    registry.load()


def test_compiling_a_chain_never_runs_the_settings_serializer(counting_plugin):
    stored = CountingPlugin.validated_settings({"label": uuid.uuid4().hex})  # the write
    assert CountingSettings.validations == 1
    for _ in range(3):
        plugin = built("counting", stored)
        assert plugin.config == CountingConfig(label=stored["label"])
    assert CountingSettings.validations == 1


def _is_frozen(config_class: type) -> bool:
    return dataclasses.is_dataclass(config_class) and config_class.__dataclass_params__.frozen


def _agree(serializer: serializers.Serializer, config_class: type, where: str) -> list[str]:
    """Where the serializer's fields and the Config's disagree: names, defaults, nesting."""
    if not _is_frozen(config_class):
        return [f"{where}: {config_class!r} is not a frozen dataclass"]
    hints = typing.get_type_hints(config_class)
    fields = {field.name: field for field in dataclasses.fields(config_class)}
    declared = {name: field for name, field in serializer.fields.items() if not field.read_only}
    problems = [f"{where}{name}: not in the Config" for name in sorted(set(declared) - {*fields})]
    for name, field in declared.items():
        if name not in fields:
            continue
        if field.default is not serializers.empty:
            default = field.default() if callable(field.default) else field.default
            own = fields[name].default
            if fields[name].default_factory is not dataclasses.MISSING:
                own = fields[name].default_factory()
            if settings_of_value(own) != default:
                problems.append(f"{where}{name}: default {own!r} is not {default!r}")
        problems += _nested(field, hints[name], f"{where}{name}.")
    return problems


def _nested(field: serializers.Field, kind: Any, where: str) -> list[str]:
    if typing.get_origin(kind) in (types.UnionType, typing.Union):  # X | None
        kind = next(a for a in typing.get_args(kind) if a is not type(None))
    if typing.get_origin(kind) is tuple:
        kind = typing.get_args(kind)[0]
    if isinstance(field, serializers.ListSerializer | serializers.ListField):
        field = field.child
    if not isinstance(field, serializers.Serializer):
        return []
    if typing.get_origin(kind) is Mapping:  # a serializer of named entries of one kind
        value = typing.get_args(kind)[1]
        return [p for name, f in field.fields.items() for p in _agree(f, value, f"{where}{name}.")]
    return _agree(field, kind, where)


def settings_of_value(value: Any) -> Any:
    if isinstance(value, Config) or dataclasses.is_dataclass(value):
        return settings_of(value)
    if isinstance(value, tuple):
        return list(value)
    if isinstance(value, types.MappingProxyType):
        return dict(value)
    return value


@pytest.mark.parametrize("name", registry.names())
def test_each_plugin_declares_a_frozen_config_of_its_settings_and_defaults(name):
    plugin_class = registry.get(name)
    assert plugin_class.Config is not Config, f"{name} declares no Config"
    assert _agree(plugin_class.settings_serializer(), plugin_class.Config, "") == []


def test_a_config_is_frozen_and_holds_no_mutable_settings():
    plugin = make_plugin(
        "external_api",
        {
            "endpoint": "https://93.184.215.14/check",
            "headers": {"X-Token": "t"},
            "conditions": [
                {"field": "flagged", "operator": "eq", "value": True, "stop_flow": True}
            ],
        },
    )
    config = plugin.config
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.endpoint = "https://evil.example"
    with pytest.raises(TypeError):
        config.headers["X-Token"] = "other"
    assert isinstance(config.conditions, tuple)
    assert config.conditions[0].stop_flow is True
    assert (config.timeout, config.on_error) == (5.0, "block")  # the defaults


def test_settings_stored_before_a_setting_existed_take_its_default():
    stored = {"allowed_origins": ["https://app.example.com"], "allowed_methods": ["GET"]}
    config = built("cors", stored).config
    assert (config.require_origin, config.log_violations, config.max_age) == (False, False, None)
    assert config.allowed_origins == ("https://app.example.com",)


@pytest.mark.parametrize(
    "stored",
    [
        {"limits": {"per_ip": {"limit": "5", "window": "1m"}}},  # never normalised
        {"limits": PER_IP, "burst": 3},  # a setting that no longer exists
        {"limits": {"per_ip": {"window": "1m"}}},  # a required one missing
        {"limits": PER_IP, "fail_open": "false"},
        {"limits": PER_IP, "actions": "reject"},
        ["limits"],
    ],
)
def test_stored_settings_of_another_shape_fail_closed(stored):
    with pytest.raises(ConfigError):
        built("rate_limiter", stored)


def test_a_stored_chain_the_migration_could_not_normalise_is_not_run():
    with pytest.raises(ValueError, match="no limit"):
        built("rate_limiter", {"limits": {}})  # tests/plugins/test_settings_migration's BROKEN


def test_a_stored_config_reads_back_as_itself():
    plugin = make_plugin(
        "prompt_moderation", {"keywords": ["x"], "regex": ["a+b"], "actions": {"type": "block"}}
    )
    assert config_from(type(plugin.config), settings_of(plugin.config)) == plugin.config
    assert plugin.config.roles == ("user", "system", "developer", "assistant", "tool", "function")


def test_a_stored_row_that_makes_no_config_does_not_break_a_write_of_another_chain():
    broken = {"name": "code_sanitation", "stage": "pre_request", "settings": {"action": 3}}
    sanitiser = {
        "name": "code_sanitation",
        "stage": "pre_request",
        "settings": CodeSanitationPlugin.validated_settings(
            {"content_to_check": ["body"], "apply_all_languages": True, "action": "sanitize"}
        ),
    }
    guardrail = {"name": "external_api", "stage": "pre_request", "settings": {}}
    assert chain_conflict([[guardrail], [broken]]) is None
    assert "code_sanitation" in chain_conflict([[guardrail], [sanitiser]])  # read from its config
