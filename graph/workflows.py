"""Load, validate and match declared workflows (bundled `lumos.workflows` + configured folders).

Every problem is an `InputError` naming the file and line: bad schema, unknown agent/action/role/
runbook names, cycles between stages, branches that can never be taken, and two workflows of equal
priority that can match the same alert.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources as pkg_resources
from pathlib import Path

import yaml
from pydantic import ValidationError

from lumos.graph.workflow_spec import REQUIRED_AGENTS, Branch, MatchRule, Workflow
from lumos.tools.domain import FAULT_TYPES, Alert
from lumos.tools.errors import InputError, NotFoundError
from lumos.tools.runbooks.yamlpos import line_of, parse_with_positions

SUFFIXES = (".yaml", ".yml")


def bundled_workflow_dir() -> Path:
    """The folder of the workflows shipped with LUMOS (package data of `lumos.workflows`)."""
    return Path(str(pkg_resources.files("lumos.workflows")))


@dataclass(frozen=True)
class Known:
    """The names a workflow may use."""

    agents: Collection[str]
    actions: Collection[str]
    roles: Collection[str]
    runbooks: Collection[str] | None = None
    """None = do not check runbook ids."""


@dataclass(frozen=True)
class LoadedWorkflow:
    """A valid workflow, where it came from, and its stages in execution order."""

    workflow: Workflow
    path: Path | None
    levels: tuple[tuple[str, ...], ...]
    """Agents to run per step: each tuple runs in parallel, the tuples one after the other."""


def _err(message: str, path: Path, node: yaml.Node | None, loc: Sequence[str | int]) -> InputError:
    return InputError(message, path=path, line=line_of(node, loc), field=".".join(str(p) for p in loc) or None)


def stage_levels(workflow: Workflow, path: Path, node: yaml.Node | None) -> tuple[tuple[str, ...], ...]:
    """Topological levels of the stages (agents of one level run in parallel); InputError on a cycle."""
    names = [s.name for s in workflow.stages]
    for i, stage in enumerate(workflow.stages):
        if names.count(stage.name) > 1:
            raise _err(f"duplicate stage name {stage.name!r}", path, node, ("stages", i, "name"))
        for j, dep in enumerate(stage.after):
            if dep not in names:
                raise _err(f"stage {stage.name!r} runs after unknown stage {dep!r}; stages: {', '.join(names)}",
                           path, node, ("stages", i, "after", j))
    done: set[str] = set()
    levels: list[tuple[str, ...]] = []
    while len(done) < len(names):
        ready = [s for s in workflow.stages if s.name not in done and set(s.after) <= done]
        if not ready:
            stuck = [s.name for s in workflow.stages if s.name not in done]
            index = names.index(stuck[0])
            raise _err(f"cycle between stages: {' -> '.join(stuck)}", path, node, ("stages", index, "after"))
        agents: list[str] = []
        for stage in ready:
            agents.extend(a for a in stage.agents if a not in agents)
            done.add(stage.name)
        levels.append(tuple(agents))
    return tuple(levels)


def _covers(earlier: Branch, later: Branch) -> bool:
    a, b = earlier.when, later.when
    return ((a.fault_type is None or a.fault_type == b.fault_type)
            and (a.min_confidence is None or (b.min_confidence is not None and b.min_confidence >= a.min_confidence))
            and (a.max_confidence is None or (b.max_confidence is not None and b.max_confidence <= a.max_confidence)))


def _check_branches(workflow: Workflow, path: Path, node: yaml.Node | None, known: Known) -> None:
    for i, branch in enumerate(workflow.branches):
        where = ("branches", i)
        if (branch.runbook is None) == (not branch.escalate):
            raise _err(f"branch {branch.name!r} needs exactly one of `runbook` or `escalate: true`", path, node, where)
        when = branch.when
        if when.fault_type is not None and when.fault_type not in FAULT_TYPES:
            raise _err(f"unknown fault type {when.fault_type!r}; valid: {', '.join(FAULT_TYPES)}", path, node, (*where, "when", "fault_type"))
        if when.min_confidence is not None and when.max_confidence is not None and when.min_confidence >= when.max_confidence:
            raise _err(f"branch {branch.name!r} can never be taken: min_confidence >= max_confidence", path, node, (*where, "when"))
        if branch.runbook is not None and known.runbooks is not None and branch.runbook not in known.runbooks:
            raise _err(f"unknown runbook {branch.runbook!r}", path, node, (*where, "runbook"))
        for j, earlier in enumerate(workflow.branches[:i]):
            if _covers(earlier, branch):
                raise _err(f"branch {branch.name!r} can never be taken: branch {earlier.name!r} (#{j}) always matches first",
                           path, node, where)


def check_workflow(workflow: Workflow, path: Path, node: yaml.Node | None, known: Known) -> LoadedWorkflow:
    """Semantic checks of one parsed workflow; the loaded workflow, or InputError with file:line."""
    seen: set[str] = set()
    for i, stage in enumerate(workflow.stages):
        for j, agent in enumerate(stage.agents):
            if agent in seen:
                raise _err(f"agent {agent!r} is named twice; each agent runs once per incident", path, node, ("stages", i, "agents", j))
            seen.add(agent)
            if agent not in known.agents:
                raise _err(f"unknown agent {agent!r}; known: {', '.join(sorted(known.agents))}", path, node, ("stages", i, "agents", j))
    levels = stage_levels(workflow, path, node)
    for agent in REQUIRED_AGENTS:
        if not any(agent in level for level in levels):
            raise _err(f"every workflow must run agent {agent!r} (correlation needs its report)", path, node, ("stages",))
    for i, action in enumerate(workflow.approval.gate_actions):
        if action not in known.actions:
            raise _err(f"unknown action {action!r}; known: {', '.join(sorted(known.actions))}", path, node, ("approval", "gate_actions", i))
    for i, role in enumerate(workflow.approval.approver_roles):
        if role not in known.roles:
            raise _err(f"unknown approver role {role!r}; known: {', '.join(sorted(known.roles))} (LUMOS_APPROVER_ROLES)",
                       path, node, ("approval", "approver_roles", i))
    _check_branches(workflow, path, node, known)
    return LoadedWorkflow(workflow=workflow, path=path, levels=levels)


def load_workflow_file(path: Path, known: Known) -> LoadedWorkflow:
    """Parse and check one workflow file; InputError with file:line on any problem."""
    data, node = parse_with_positions(path)
    if not isinstance(data, dict):
        raise InputError(f"expected a mapping at the top level, got {type(data).__name__}", path=path, line=1)
    try:
        workflow = Workflow.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        raise _err(err.get("msg", "invalid"), path, node, tuple(err.get("loc", ()))) from None
    return check_workflow(workflow, path, node, known)


def _disjoint(a: Iterable[str], b: Iterable[str]) -> bool:
    left, right = {x.lower() for x in a}, {x.lower() for x in b}
    return bool(left) and bool(right) and not (left & right)


def may_overlap(a: MatchRule, b: MatchRule) -> bool:
    """Whether some alert could match both rules (conservative: globs are assumed to overlap)."""
    if _disjoint(a.severity, b.severity) or _disjoint(a.service_kind, b.service_kind) or _disjoint(a.environment, b.environment):
        return False
    for key in set(a.labels) & set(b.labels):
        x, y = a.labels[key], b.labels[key]
        if not any(c in x + y for c in "*?[") and x.lower() != y.lower():
            return False
    return True


def rule_reason(rule: MatchRule, alert: Alert, service_kind: str | None) -> str | None:
    """Why `rule` matches the alert (a short text), or None when it does not."""
    reasons: list[str] = []
    for key, pattern in rule.labels.items():
        value = alert.labels.get(key)
        if value is None or not fnmatch.fnmatch(value.lower(), pattern.lower()):
            return None
        reasons.append(f"label {key}={value}")
    if rule.severity:
        if alert.severity.lower() not in {s.lower() for s in rule.severity}:
            return None
        reasons.append(f"severity {alert.severity}")
    if rule.service_kind:
        if service_kind not in rule.service_kind:
            return None
        reasons.append(f"service {alert.service} is a {service_kind}")
    if rule.environment:
        env = alert.labels.get("environment") or alert.labels.get("env") or ""
        if env.lower() not in {e.lower() for e in rule.environment}:
            return None
        reasons.append(f"environment {env}")
    return ", ".join(reasons) or "matches every alert"


@dataclass(frozen=True)
class WorkflowCatalog:
    """The valid workflows by name; one is the fallback."""

    items: dict[str, LoadedWorkflow] = field(default_factory=dict)

    @classmethod
    def load(cls, dirs: Sequence[Path | str], known: Known, *, include_bundled: bool = True) -> "WorkflowCatalog":
        """Load bundled and configured workflows; InputError (file:line) on the first problem."""
        catalog, errors = cls.check(dirs, known, include_bundled=include_bundled)
        if errors:
            raise errors[0]
        return catalog

    @classmethod
    def check(cls, dirs: Sequence[Path | str], known: Known, *, include_bundled: bool = True) -> tuple["WorkflowCatalog", list[InputError]]:
        """Check every workflow file (bundled + `dirs`, or single files): (the valid ones, every problem found)."""
        paths = [bundled_workflow_dir()] if include_bundled else []
        paths += [Path(d) for d in dirs]
        items: dict[str, LoadedWorkflow] = {}
        errors: list[InputError] = []
        for folder in paths:
            if folder.is_file():
                files = [folder]
            elif folder.is_dir():
                files = sorted(p for p in folder.iterdir() if p.suffix in SUFFIXES)
            else:
                errors.append(InputError("workflow folder not found", path=folder))
                continue
            for path in files:
                try:
                    loaded = load_workflow_file(path, known)
                    name = loaded.workflow.name
                    if name in items:
                        raise InputError(f"duplicate workflow name {name!r} (first defined in {items[name].path})", path=path, line=1, field="name")
                    cls._check_conflicts(loaded, items.values())
                except InputError as exc:
                    errors.append(exc)
                    continue
                items[name] = loaded
        fallbacks = [w.workflow.name for w in items.values() if w.workflow.fallback]
        if len(fallbacks) > 1 or (not fallbacks and not errors):
            errors.append(InputError(f"exactly one workflow must be the fallback, found {len(fallbacks)}: {', '.join(fallbacks) or 'none'}",
                                     path=paths[-1] if paths else None, field="fallback"))
        return cls(items=items), errors

    @staticmethod
    def _check_conflicts(new: LoadedWorkflow, existing: Iterable[LoadedWorkflow]) -> None:
        if new.workflow.fallback:
            return
        for other in existing:
            if other.workflow.fallback or other.workflow.priority != new.workflow.priority:
                continue
            if may_overlap(new.workflow.match, other.workflow.match):
                data, node = parse_with_positions(new.path)
                raise _err(f"workflows {new.workflow.name!r} and {other.workflow.name!r} ({other.path}) can match the same alert "
                           f"with equal priority {new.workflow.priority}; change a priority or narrow a match", new.path, node, ("match",))

    def names(self) -> list[str]:
        """Workflow names, sorted."""
        return sorted(self.items)

    def get(self, name: str) -> LoadedWorkflow:
        """The workflow called `name`; NotFoundError listing the known ones otherwise."""
        try:
            return self.items[name]
        except KeyError:
            raise NotFoundError(f"no workflow {name!r}; known: {', '.join(self.names())}") from None

    def select(self, alert: Alert, service_kind: str | None) -> tuple[LoadedWorkflow, str]:
        """The workflow for this alert and why: the matching one of highest priority, else the fallback."""
        matches = [(w, rule_reason(w.workflow.match, alert, service_kind)) for w in self.items.values() if not w.workflow.fallback]
        ranked = sorted(((w, why) for w, why in matches if why is not None), key=lambda p: -p[0].workflow.priority)
        if ranked:
            chosen, why = ranked[0]
            return chosen, f"{why} (priority {chosen.workflow.priority})"
        fallback = next(w for w in self.items.values() if w.workflow.fallback)
        return fallback, "no other workflow matched; fallback"
