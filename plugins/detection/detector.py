"""The base of the pattern detectors (injection_protection, code_sanitation): built-in rules
plus the operator's, compiled once per location when the chain is compiled; block, log or
sanitise on a hit."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from plugins.base import Plugin
from plugins.configs import Config
from plugins.detection.engine import Matcher, Rule, compiled
from plugins.detection.fields import expand
from plugins.detection.report import BLOCKED, LOGGED, SANITIZED, report
from plugins.detection.scan import LOCATIONS, Hit, Sanitiser, hits, path_hit
from plugins.sdk.context import PluginRejection, RequestContext

BLOCK, LOG_ONLY, SANITIZE = "block", "log_only", "sanitize"


@dataclass(frozen=True, kw_only=True)
class DetectorConfig(Config):
    """The settings every pattern detector has (each names its own error_message)."""

    content_to_check: tuple[str, ...]
    action: str = BLOCK
    status_code: int = 400
    error_message: str


class PatternDetector(Plugin):
    """Subclasses say which built-in rules the settings enable and which operator rules
    (with the places each applies to) they add."""

    allowed_stages = ("pre_request",)
    config: DetectorConfig

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.config
        checked = expand(config.content_to_check)
        builtin = self.builtin_rules()
        custom = [
            (Rule(name, name, pattern), expand([where]))
            for name, pattern, where in self.custom_rules()
        ]
        self.matchers: dict[str, Matcher] = {
            where: compiled(
                (
                    *(builtin if where in checked else ()),
                    *(rule for rule, places in custom if where in places),
                )
            )
            for where in LOCATIONS
        }
        self.action: str = config.action
        self.status_code: int = config.status_code
        self.error_message: str = config.error_message

    def builtin_rules(self) -> tuple[Rule, ...]:
        raise NotImplementedError(".builtin_rules() must be overridden")

    def custom_rules(self) -> tuple[tuple[str, str, str], ...]:
        """The operator's rules as (name, pattern, where it applies)."""
        raise NotImplementedError(".custom_rules() must be overridden")

    def sanitize_char(self) -> str:
        """What replaces each character of a matched fragment (detectors that sanitise)."""
        raise NotImplementedError(".sanitize_char() must be overridden to sanitise")

    def pre_request(self, request: RequestContext) -> None:
        if self.action == SANITIZE:
            self.sanitise(request)
            return
        found = hits(request, self.matchers, first=self.action == BLOCK)
        if found and self.action == BLOCK:
            self.refuse(request, found[0])
        for hit in found:
            report(request, self.name, hit.rule, hit.where, LOGGED)

    def sanitise(self, request: RequestContext) -> None:
        """Rewrite what matched; an attack in the path (the route) is refused instead."""
        hit = path_hit(request, self.matchers)
        if hit is not None:
            self.refuse(request, hit)
        for hit in Sanitiser(self.matchers, self.sanitize_char()).request(request):
            report(request, self.name, hit.rule, hit.where, SANITIZED)

    def refuse(self, request: RequestContext, hit: Hit) -> None:
        report(request, self.name, hit.rule, hit.where, BLOCKED)
        raise PluginRejection(self.status_code, self.error_message)
