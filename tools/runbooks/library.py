"""The runbook library: load and validate runbook YAML files, serve the valid ones.

Validation happens entirely at load time: schema (unknown fields are errors), registered
action and check names, parameters checked against each action's schema (with placeholders
filled by sample values), placeholder whitelist, and no step may claim a destructive action
is safe. An invalid file is never served; its errors name file, line and field.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from lumos.tools.actions.registry import (
    ActionRegistry,
    CheckRegistry,
    ParamsError,
    default_action_registry,
    default_check_registry,
)
from lumos.tools.domain import Runbook
from lumos.tools.errors import InputError, NotFoundError
from lumos.tools.runbooks.templating import TemplateError, check_syntax, render, sample_context
from lumos.tools.runbooks.yamlpos import line_of, parse_with_positions

RUNBOOK_SUFFIXES = (".yaml", ".yml")


def bundled_runbook_dir() -> Path:
    """The folder of the runbooks shipped with LUMOS (package data of `lumos.runbooks`)."""
    return Path(str(resources.files("lumos.runbooks")))


def check_runbook_file(path: Path, *, actions: ActionRegistry | None = None,
                       checks: CheckRegistry | None = None) -> tuple[Runbook | None, list[InputError]]:
    """Validate one runbook file, returning (runbook or None, every error found)."""
    actions = actions or default_action_registry()
    checks = checks or default_check_registry()
    try:
        data, node = parse_with_positions(path)
    except InputError as exc:
        return None, [exc]
    if not isinstance(data, dict):
        return None, [InputError(f"expected a mapping at the top level, got {type(data).__name__}", path=path, line=1)]
    try:
        runbook = Runbook.model_validate(data)
    except ValidationError as exc:
        errors = []
        for err in exc.errors():
            loc = tuple(err.get("loc", ()))
            errors.append(InputError(err.get("msg", "invalid"), path=path, line=line_of(node, loc),
                                     field=".".join(str(p) for p in loc) or None))
        return None, errors
    problems = list(_semantic_problems(runbook, actions, checks))
    errors = [InputError(msg, path=path, line=line_of(node, loc), field=".".join(str(p) for p in loc)) for loc, msg in problems]
    return (None if errors else runbook), errors


def _semantic_problems(rb: Runbook, actions: ActionRegistry, checks: CheckRegistry) -> Iterable[tuple[tuple[Any, ...], str]]:
    """(location, message) for every rule the schema alone cannot express."""
    seen: set[str] = set()
    for i, step in enumerate(rb.steps):
        if step.id in seen:
            yield ("steps", i, "id"), f"duplicate step id {step.id!r}"
        seen.add(step.id)
        yield from _call_problems(("steps", i), step.action, step.params, actions, "action", "params")
        if step.action in actions and step.destructive is False and actions.is_destructive(step.action):
            yield ("steps", i, "destructive"), f"{step.action} is destructive; a runbook may not mark it safe"
        if step.verify is not None:
            yield from _call_problems(("steps", i, "verify"), step.verify.check, step.verify.params, checks, "check", "params")
        if step.rollback is not None:
            yield from _call_problems(("steps", i, "rollback"), step.rollback.action, step.rollback.params, actions, "action", "params")
    for group in ("preconditions", "post_checks"):
        for i, chk in enumerate(getattr(rb, group)):
            yield from _call_problems((group, i), chk.check, chk.params, checks, "check", "params")


def _call_problems(base: tuple[Any, ...], name: str, params: dict[str, Any], table: ActionRegistry | CheckRegistry,
                   name_field: str, params_field: str) -> Iterable[tuple[tuple[Any, ...], str]]:
    if name not in table:
        yield (*base, name_field), f"unknown {table.kind} {name!r}; valid: {', '.join(table.names())}"
        return
    try:
        check_syntax(params)
        table.validate(name, render(params, sample_context()))
    except TemplateError as exc:
        yield (*base, params_field), str(exc)
    except ParamsError as exc:
        loc = (*base, params_field, *(exc.field.split(".") if exc.field else ()))
        yield loc, f"{name}: {exc.message}"


def load_runbook(path: str | Path, *, actions: ActionRegistry | None = None, checks: CheckRegistry | None = None) -> Runbook:
    """Load and fully validate one runbook file; InputError (file:line: field: message) on the first problem."""
    runbook, errors = check_runbook_file(Path(path), actions=actions, checks=checks)
    if errors:
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        raise InputError(first.message + more, path=first.path, line=first.line, field=first.field)
    assert runbook is not None
    return runbook


def runbook_files(directory: Path) -> list[Path]:
    """Runbook files under `directory` (recursive, sorted); InputError if it is not a directory."""
    if not directory.is_dir():
        raise InputError("not a directory", path=directory)
    return sorted(p for p in directory.rglob("*") if p.suffix in RUNBOOK_SUFFIXES and p.is_file())


@dataclass(frozen=True)
class RunbookLibrary:
    """The valid runbooks of some folders, by id; `errors` lists what was skipped and why."""

    runbooks: dict[str, Runbook] = field(default_factory=dict)
    sources: dict[str, Path] = field(default_factory=dict)
    errors: list[InputError] = field(default_factory=list)

    @classmethod
    def load(cls, dirs: Sequence[Path | str] = (), *, include_bundled: bool = True, actions: ActionRegistry | None = None,
             checks: CheckRegistry | None = None) -> "RunbookLibrary":
        """Load the bundled runbooks (unless excluded) and those under `dirs`; invalid files are skipped into `.errors`.

        A missing folder or a duplicate id is also reported in `.errors`; the first runbook with an id wins.
        """
        folders = ([bundled_runbook_dir()] if include_bundled else []) + [Path(d) for d in dirs]
        runbooks: dict[str, Runbook] = {}
        sources: dict[str, Path] = {}
        errors: list[InputError] = []
        for folder in folders:
            try:
                files = runbook_files(folder)
            except InputError as exc:
                errors.append(exc)
                continue
            for path in files:
                runbook, file_errors = check_runbook_file(path, actions=actions, checks=checks)
                errors.extend(file_errors)
                if runbook is None:
                    continue
                if runbook.id in runbooks:
                    errors.append(InputError(f"duplicate runbook id {runbook.id!r} (first defined in {sources[runbook.id]})",
                                             path=path, line=1, field="id"))
                    continue
                runbooks[runbook.id] = runbook
                sources[runbook.id] = path
        return cls(runbooks=runbooks, sources=sources, errors=errors)

    def get(self, runbook_id: str) -> Runbook:
        """The runbook with this id; NotFoundError naming close alternatives otherwise."""
        try:
            return self.runbooks[runbook_id]
        except KeyError:
            raise NotFoundError(f"no runbook {runbook_id!r}; known: {', '.join(sorted(self.runbooks)) or 'none'}") from None

    def all(self) -> list[Runbook]:
        """Every valid runbook, sorted by id."""
        return [self.runbooks[k] for k in sorted(self.runbooks)]

    def __len__(self) -> int:
        return len(self.runbooks)


def runbook_json_schema(actions: ActionRegistry | None = None, checks: CheckRegistry | None = None) -> dict[str, Any]:
    """JSON Schema of the runbook format, with action and check names as enums (for editors and CI)."""
    actions = actions or default_action_registry()
    checks = checks or default_check_registry()
    schema = Runbook.model_json_schema()
    defs = schema.get("$defs", {})
    for model in ("RunbookStep", "StepSpec"):
        if model in defs:
            defs[model]["properties"]["action"]["enum"] = actions.names()
    if "Check" in defs:
        defs["Check"]["properties"]["check"]["enum"] = checks.names()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "LUMOS runbook"
    return schema


def dump_runbook(runbook: Runbook) -> str:
    """A runbook as YAML text (round-trips through load_runbook)."""
    return yaml.safe_dump(runbook.model_dump(mode="json", exclude_defaults=True), sort_keys=False)
