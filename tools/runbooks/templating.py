"""Safe placeholder substitution for runbook parameters: `{{ service }}` and nothing more.

Only whitelisted variable names are substituted; there are no expressions, filters, loops
or attribute access, so runbook text cannot compute or reach anything. Anything that looks
like template syntax but is not a plain whitelisted placeholder is an error.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from typing import Any

TEMPLATE_VARIABLES: Mapping[str, str] = {
    "service": "the target service (the top hypothesis' service)",
    "alert_service": "the service the alert fired on",
    "instance": "the faulty instance (pod/host), when known",
    "caller": "a service that calls the target (prefers the alerting service)",
    "dependency": "the target's datastore/external dependency, when it has one",
    "version": "the target's current version, when known",
    "previous_version": "the target's previous version, when known",
    "config_version": "the target's current config version, when known",
    "previous_config_version": "the target's previous config version, when known",
    "namespace": "deployment namespace",
    "environment": "environment name (e.g. production)",
    "incident_id": "the incident id",
    "fault_type": "the hypothesised fault type",
    "severity": "alert severity",
}

_PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")
_ANY_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|\{#|#\}")
_SAMPLE = "sample-value"


class TemplateError(ValueError):
    """A placeholder is malformed, not whitelisted, or missing from the context."""


def placeholders(value: Any) -> Iterator[str]:
    """Every placeholder name used anywhere in `value` (strings inside dicts/lists too)."""
    if isinstance(value, str):
        yield from (m.group(1) for m in _PLACEHOLDER.finditer(value))
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from placeholders(item)
    elif isinstance(value, list):
        for item in value:
            yield from placeholders(item)


def check_syntax(value: Any) -> None:
    """Raise TemplateError for template syntax that is not a whitelisted `{{ name }}` placeholder."""
    if isinstance(value, str):
        stripped = _PLACEHOLDER.sub("", value)
        if _ANY_SYNTAX.search(stripped):
            raise TemplateError(f"only plain placeholders like '{{{{ service }}}}' are allowed, got {value!r}")
        for name in placeholders(value):
            if name not in TEMPLATE_VARIABLES:
                raise TemplateError(f"unknown placeholder {name!r}; valid: {', '.join(sorted(TEMPLATE_VARIABLES))}")
    elif isinstance(value, Mapping):
        for item in value.values():
            check_syntax(item)
    elif isinstance(value, list):
        for item in value:
            check_syntax(item)


def render(value: Any, context: Mapping[str, str]) -> Any:
    """Substitute placeholders in every string of `value` from `context` (whitelisted names only).

    The substituted text is inserted verbatim and never re-scanned, so a context value that
    itself contains `{{ ... }}` stays inert.
    """
    check_syntax(value)
    if isinstance(value, str):
        def _sub(match: re.Match[str]) -> str:
            name = match.group(1)
            if name not in context or context[name] in (None, ""):
                raise TemplateError(f"placeholder {name!r} has no value in the incident context")
            return str(context[name])
        return _PLACEHOLDER.sub(_sub, value)
    if isinstance(value, Mapping):
        return {key: render(item, context) for key, item in value.items()}
    if isinstance(value, list):
        return [render(item, context) for item in value]
    return value


def sample_context() -> dict[str, str]:
    """A context with a plausible value for every variable, used to validate runbooks at load time."""
    return {name: _SAMPLE for name in TEMPLATE_VARIABLES}


def render_params(params: Mapping[str, Any], context: Mapping[str, str]) -> dict[str, Any]:
    """Render a parameter mapping (a step's, a check's or a rollback's) from the incident context."""
    return render(dict(params), context)
