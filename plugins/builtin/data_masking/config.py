"""The typed config of data_masking: frozen dataclasses of its settings as stored."""

from __future__ import annotations

from dataclasses import dataclass

from plugins.configs import Config


@dataclass(frozen=True, kw_only=True)
class EntityConfig:
    entity: str
    enabled: bool = True
    mask_with: str | None = None  # the entity's own mask (APPLY_ALL_MASK with apply_all)
    preserve_len: bool = False


@dataclass(frozen=True, kw_only=True)
class RuleConfig:
    pattern: str
    type: str
    mask_with: str
    preserve_len: bool = False


@dataclass(frozen=True, kw_only=True)
class ReversibleHashing:
    enabled: bool = False
    secret: str | None = None


@dataclass(frozen=True, kw_only=True)
class Targets:
    query: bool = False
    headers: tuple[str, ...] = ()
    json_keys: bool = False


@dataclass(frozen=True, kw_only=True)
class DataMaskingConfig(Config):
    predefined_entities: tuple[EntityConfig, ...] = ()
    rules: tuple[RuleConfig, ...] = ()
    apply_all: bool = False
    similarity_threshold: float = 0.8
    max_edit_distance: int = 1
    normalize_input: bool = False
    reversible_hashing: ReversibleHashing = ReversibleHashing()
    targets: Targets = Targets()
