"""Verdicts of the detectors: a Finding on the request (for logs and metrics) and a log line
naming the plugin, type and rule, where it was found and what was done; never the payload."""

from __future__ import annotations

import logging

from plugins.detection.engine import Rule
from plugins.sdk.context import Finding, RequestContext

logger = logging.getLogger("plugins.detection")

BLOCKED, SANITIZED, LOGGED = "blocked", "sanitized", "logged"


def report(request: RequestContext, plugin: str, rule: Rule, where: str, action: str) -> None:
    request.findings.append(Finding(plugin=plugin, kind=rule.kind, action=action))
    logger.warning(
        "%s: %s detected by rule %s in %s; %s (request %s)",
        plugin,
        rule.kind,
        rule.name,
        where,
        action,
        request.request_id,
    )
