"""Rule path patterns (exact, `{param}` segments, trailing `/*`): compiled once, when a rule is
validated and when its gateway's snapshot is built."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gateways.path_normalization import DOT_SEGMENTS, normalize_segment

HTTP_METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS")
PARAM_RE = re.compile(r"^\{([A-Za-z_][A-Za-z0-9_]*)\}$")
PLACEHOLDER_RE = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
SEGMENT_RE = re.compile(r"^[A-Za-z0-9\-._~!$&'()+,;=:@%]+$")
REST_GROUP = "__rest"


@dataclass(frozen=True)
class PathPattern:
    """A compiled rule path: its regex and how specific it is (higher sorts first)."""

    source: str
    regex: re.Pattern[str]
    specificity: tuple[int, int, int, int]

    def match(self, path: str) -> tuple[dict[str, str], str] | None:
        """Path parameters and the wildcard remainder, or None when the path does not match."""
        found = self.regex.fullmatch(path)
        if found is None:
            return None
        params = found.groupdict()
        rest = params.pop(REST_GROUP, None) or ""
        return params, rest


def compile_path_pattern(path: str) -> PathPattern:
    """Compile a rule path; ValueError says what is wrong with it."""
    if not path.startswith("/"):
        raise ValueError("The path must start with '/'.")
    wildcard = path == "/*" or path.endswith("/*")
    body = path[:-2] if wildcard else path
    trailing_slash = not wildcard and len(body) > 1 and body.endswith("/")
    segments = body.rstrip("/").split("/")[1:] if body.rstrip("/") else []
    parts, names, literals = [], set(), 0
    for segment in segments:
        parts.append(_segment_regex(segment, names))
        literals += 0 if PARAM_RE.match(segment) else 1
    regex = "".join("/" + part for part in parts)
    if wildcard:
        regex += f"(?:/(?P<{REST_GROUP}>.*))?"
    elif not regex or trailing_slash:
        regex += "/"
    specificity = (0 if wildcard else 1, literals, -len(names), len(body))
    return PathPattern(path, re.compile(regex), specificity)


def _segment_regex(segment: str, names: set[str]) -> str:
    param = PARAM_RE.match(segment)
    if param:
        name = param.group(1)
        if name in names:
            raise ValueError(f"The parameter {{{name}}} appears twice.")
        names.add(name)
        return f"(?P<{name}>[^/]+)"
    if not segment or "*" in segment or not SEGMENT_RE.match(segment):
        raise ValueError(
            f"Invalid path segment {segment!r}: use literal segments, {{name}} parameters and "
            "an optional trailing '/*'."
        )
    if segment in DOT_SEGMENTS:
        raise ValueError(f"Invalid path segment {segment!r}: dot segments never match a request.")
    # Requests are matched in their normalised form: compare like with like.
    return re.escape(normalize_segment(segment))


def normalized_pattern(path: str) -> str:
    """The path with parameter names erased: `/a/{id}` and `/a/{key}` are the same route."""
    return PLACEHOLDER_RE.sub("{}", path)


def substitute_params(template: str, params: dict[str, str]) -> str:
    """Replace `{name}` in a target path with the matched parameters (unknown ones stay literal)."""
    return PLACEHOLDER_RE.sub(lambda m: params.get(m.group(1), m.group(0)), template)


def join_paths(base: str, rest: str) -> str:
    if not rest:
        return base or "/"
    return (base.rstrip("/") + "/" + rest.lstrip("/")) if base else "/" + rest.lstrip("/")
