"""Writes of plugin chains: a gateway's `required_plugins` or a rule's `plugin_chain`.

The owner is any model PluginConfig points at (`gateway` or `rule`); this app never imports
them. Granular writes keep the rows (and so the ids, which key rate-limit buckets) of the
plugins they leave alone; each write is one transaction and saves the owner once."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from django.db import models, transaction
from rest_framework import serializers

from plugins.models import PluginConfig
from plugins.ordering import refuse_unsafe_gateway_chain, refuse_unsafe_rule_chain
from plugins.validation import restore_plugin_secrets

PLUGIN_FIELDS = ("name", "enabled", "stage", "priority", "parallel", "settings")
ROW = "row"  # key of a chain entry holding its stored PluginConfig (absent: a new plugin)
Entry = dict[str, Any]


def exists_message(stage: str) -> str:
    return f"plugin already exists for stage {stage}"


def missing_message(name: str) -> str:
    return f"No plugin named {name!r} in this chain."


def _owner_field(owner: models.Model) -> str:
    return owner._meta.model_name  # "gateway" or "rule": PluginConfig's foreign keys


def _stored_chain(owner: models.Model) -> list[Entry]:
    """The owner's chain, in order, each entry with its row; the owner row is locked."""
    type(owner)._default_manager.select_for_update().filter(pk=owner.pk).first()
    rows = PluginConfig.objects.filter(**{_owner_field(owner): owner}).order_by(
        "position", "priority"
    )
    return [{**{f: getattr(row, f) for f in PLUGIN_FIELDS}, ROW: row} for row in rows]


def _save_chain(owner: models.Model, chain: list[Entry], stored: list[Entry]) -> None:
    """Write `chain` over `stored`: rows left out are deleted, changed ones saved."""
    kept = {entry[ROW].pk for entry in chain if ROW in entry}
    for entry in stored:
        if entry[ROW].pk not in kept:
            entry[ROW].delete()
    for position, entry in enumerate(chain):
        row = entry.get(ROW) or PluginConfig(**{_owner_field(owner): owner})
        values = {**{f: entry[f] for f in PLUGIN_FIELDS}, "position": position}
        if row._state.adding or any(getattr(row, f) != v for f, v in values.items()):
            for field, value in values.items():
                setattr(row, field, value)
            row.save()
    owner.save(update_fields=["updated_at"])  # one change of the owner, whatever the rows


def _find(chain: list[Entry], name: str, stage: str | None = None) -> list[int]:
    found = [i for i, entry in enumerate(chain) if entry["name"] == name]
    narrowed = [i for i in found if chain[i]["stage"] == stage]
    return narrowed if len(found) > 1 and narrowed else found


def _clash(chain: list[Entry], plugin: Entry, skip: int | None = None) -> bool:
    return any(
        (entry["name"], entry["stage"]) == (plugin["name"], plugin["stage"])
        for index, entry in enumerate(chain)
        if index != skip
    )


@transaction.atomic
def plugin_chain_replace(*, owner: models.Model, chain: Iterable[dict[str, Any]]) -> None:
    """Replace the whole chain (a PUT or PATCH of `required_plugins` / `plugin_chain`)."""
    PluginConfig.objects.filter(**{_owner_field(owner): owner}).delete()
    PluginConfig.objects.bulk_create(
        PluginConfig(
            **{_owner_field(owner): owner},
            position=position,
            **{f: plugin[f] for f in PLUGIN_FIELDS},
        )
        for position, plugin in enumerate(chain)
    )


@transaction.atomic
def plugin_chain_add(*, owner: models.Model, plugins: list[dict[str, Any]]) -> None:
    """Append validated plugins; a name already in the chain at the same stage is a 400."""
    stored = _stored_chain(owner)
    errors = {
        index: {"name": [exists_message(plugin["stage"])]}
        for index, plugin in enumerate(plugins)
        if _clash(stored, plugin)
    }
    for index, plugin in enumerate(plugins):
        try:
            restore_plugin_secrets(plugin, None)  # a mask of nothing stored is refused
        except serializers.ValidationError as exc:
            errors.setdefault(index, {}).update(exc.detail)
    if errors:
        raise serializers.ValidationError({"plugins": errors})
    chain = [*stored, *plugins]
    _refuse_unsafe_order(owner, chain, "plugins")
    _save_chain(owner, chain, stored)


@transaction.atomic
def plugin_chain_update(*, owner: models.Model, updates: list[dict[str, Any]]) -> None:
    """Apply `add`/`edit`/`delete` operations in order; any refused one refuses them all."""
    stored = _stored_chain(owner)
    chain = list(stored)
    for index, update in enumerate(updates):
        try:
            _apply(chain, update)
        except serializers.ValidationError as exc:
            raise serializers.ValidationError({"updates": {index: exc.detail}}) from exc
    _refuse_unsafe_order(owner, chain, "updates")
    _save_chain(owner, chain, stored)


def _refuse_unsafe_order(owner: models.Model, chain: list[Entry], field: str) -> None:
    """The chain as it would be, under the order rule with the other level's (plugins.ordering);
    a breach is a 400 on `field`."""
    try:
        if _owner_field(owner) == "rule":
            refuse_unsafe_rule_chain(chain, owner.gateway_id)
        else:
            refuse_unsafe_gateway_chain(chain, owner.pk)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({field: exc.detail}) from exc


def _apply(chain: list[Entry], update: dict[str, Any]) -> None:
    operation = update["operation"]
    if operation == "add":
        _refuse_clash(chain, update["plugin"])
        chain.append(_restored(update["plugin"], None))
    elif operation == "edit":
        _edit(chain, update)
    else:
        name = update["plugin_name"]
        if not _find(chain, name):
            raise serializers.ValidationError({"plugin_name": [missing_message(name)]})
        chain[:] = [entry for entry in chain if entry["name"] != name]


def _edit(chain: list[Entry], update: dict[str, Any]) -> None:
    """Replace the plugin named `old_plugin_name` (else the plugin's own name) by `plugin`."""
    plugin, old_name = update["plugin"], update.get("old_plugin_name")
    found = _find(chain, old_name or plugin["name"], plugin["stage"])
    if not found:
        error = [missing_message(old_name or plugin["name"])]
        raise serializers.ValidationError(
            {"old_plugin_name": error} if old_name else {"plugin": {"name": error}}
        )
    _refuse_clash(chain, plugin, skip=found[0])
    plugin = _restored(plugin, chain[found[0]]["settings"])
    row = chain[found[0]].get(ROW)
    chain[found[0]] = {**plugin, ROW: row} if row else plugin


def _restored(plugin: Entry, stored_settings: Any) -> Entry:
    try:
        return restore_plugin_secrets(plugin, stored_settings)
    except serializers.ValidationError as exc:
        raise serializers.ValidationError({"plugin": exc.detail}) from exc


def _refuse_clash(chain: list[Entry], plugin: Entry, skip: int | None = None) -> None:
    if _clash(chain, plugin, skip):
        raise serializers.ValidationError({"plugin": {"name": [exists_message(plugin["stage"])]}})


@transaction.atomic
def plugin_chain_remove(*, owner: models.Model, plugins: list[str]) -> None:
    """Remove every plugin of the chain named in `plugins`; a name not in it is a 400."""
    names = plugins
    stored = _stored_chain(owner)
    present = {entry["name"] for entry in stored}
    errors = {i: [missing_message(name)] for i, name in enumerate(names) if name not in present}
    if errors:
        raise serializers.ValidationError({"plugins": errors})
    _save_chain(owner, [entry for entry in stored if entry["name"] not in names], stored)
