"""The base of the pattern detectors (injection_protection, code_sanitation): built-in rules
plus the operator's, compiled once per location when the chain is compiled; block, log or
sanitise on a hit."""

from __future__ import annotations

from typing import Any, ClassVar

from plugins.base import Plugin
from plugins.detection.engine import Matcher, Rule, compiled
from plugins.detection.fields import expand
from plugins.detection.report import BLOCKED, LOGGED, SANITIZED, report
from plugins.detection.scan import LOCATIONS, Hit, Sanitiser, hits, path_hit
from plugins.sdk.context import PluginRejection, RequestContext

BLOCK, LOG_ONLY, SANITIZE = "block", "log_only", "sanitize"


class PatternDetector(Plugin):
    """Subclasses say which built-in rules the settings enable and which operator rules
    (with the places each applies to) they add."""

    allowed_stages = ("pre_request",)
    custom_key: ClassVar[str]  # the settings list of operator rules
    custom_location_key: ClassVar[str]  # where one operator rule applies

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        config = self.settings
        checked = expand(config["content_to_check"])
        builtin = self.builtin_rules()
        custom = [
            (
                Rule(item["name"], item["name"], item["pattern"]),
                expand([item[self.custom_location_key]]),
            )
            for item in config[self.custom_key]
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
        self.action: str = config["action"]
        self.status_code: int = config["status_code"]
        self.error_message: str = config["error_message"]
        self.sanitize_char: str = config.get("sanitize_char", "X")

    def builtin_rules(self) -> tuple[Rule, ...]:
        raise NotImplementedError(".builtin_rules() must be overridden")

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
        for hit in Sanitiser(self.matchers, self.sanitize_char).request(request):
            report(request, self.name, hit.rule, hit.where, SANITIZED)

    def refuse(self, request: RequestContext, hit: Hit) -> None:
        report(request, self.name, hit.rule, hit.where, BLOCKED)
        raise PluginRejection(self.status_code, self.error_message)
