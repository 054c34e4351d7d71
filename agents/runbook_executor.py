"""The runbook executor agent's offline analyzer: pick a runbook for the top hypothesis and plan it.

Selection is retrieval (any `RunbookIndex`) filtered by the hypothesis' fault type and the
target's service kind, skipping runbooks that need context this incident cannot supply
(e.g. a faulty instance that nobody identified). Planning renders whitelisted placeholders,
validates every parameter against the action's schema and resolves the destructive flag;
nothing from runbook, log or alert text can add an action or a parameter.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from lumos.tools.actions.backend import ActionBackend
from lumos.tools.actions.policy import ApprovalPolicy, requires_approval
from lumos.tools.actions.registry import ActionRegistry, CheckRegistry, ParamsError, default_check_registry
from lumos.tools.domain import Change, Check, Hypothesis, PlannedStep, Runbook, RunbookChoice, StepSpec, Topology
from lumos.tools.errors import InputError
from lumos.tools.runbooks.library import RunbookLibrary
from lumos.tools.runbooks.search import RunbookIndex
from lumos.tools.runbooks.templating import TemplateError, placeholders, render

DATASTORE_KINDS = ("database", "cache", "queue", "external")
SECONDARY_WEIGHT = 0.8
MINIMAL_CONTEXT = frozenset({"service", "alert_service", "incident_id"})
ALWAYS_AVAILABLE = frozenset({"service", "alert_service", "incident_id", "namespace", "environment", "fault_type", "severity"})


def build_query(hypothesis: Hypothesis, alert_text: str = "", *, max_evidence: int = 8) -> str:
    """Retrieval query: the fault type in words, the strongest evidence, the rationale, the alert text, and a
    single-instance hint when the faulty instance is known (favours instance-targeted runbooks)."""
    evidence = sorted(hypothesis.evidence, key=lambda e: -e.weight)[:max_evidence]
    parts = [hypothesis.fault_type.value.replace("_", " "), *(e.summary for e in evidence), hypothesis.rationale, alert_text]
    if hypothesis.instance:
        parts.append(f"single instance {hypothesis.instance}")
    return "\n".join(p for p in parts if p)


def available_variables(hypothesis: Hypothesis, topology: Topology) -> set[str]:
    """Placeholder names `incident_context` can fill for this hypothesis."""
    names = set(ALWAYS_AVAILABLE)
    if hypothesis.instance:
        names.add("instance")
    if callers_of(topology, hypothesis.service):
        names.add("caller")
    if _dependency_of(topology, hypothesis.service):
        names.add("dependency")
    return names


def minimal_variables(hypothesis: Hypothesis) -> set[str]:
    """Placeholder names any incident context is assumed to have when the caller passes none."""
    return set(MINIMAL_CONTEXT) | ({"instance"} if hypothesis.instance else set())


def required_variables(runbook: Runbook) -> set[str]:
    """Every placeholder a runbook's steps, checks and rollbacks use."""
    used: set[str] = set()
    for step in runbook.steps:
        used.update(placeholders(step.params))
        if step.verify:
            used.update(placeholders(step.verify.params))
        if step.rollback:
            used.update(placeholders(step.rollback.params))
    for chk in (*runbook.preconditions, *runbook.post_checks):
        used.update(placeholders(chk.params))
    return used


def select_runbook(hypotheses: Sequence[Hypothesis], *, index: RunbookIndex, library: RunbookLibrary, topology: Topology,
                   alert_text: str = "", k: int = 5, backend: ActionBackend | None = None,
                   context: Mapping[str, str] | None = None) -> RunbookChoice | None:
    """Pick the best runbook for the top (first) hypothesis; None when no runbook fits its fault type.

    Runbooks whose primary (first) fault type is the hypothesis' own rank ahead of those that
    only list it as a secondary one (score x SECONDARY_WEIGHT). Runbooks needing a placeholder
    the incident cannot fill are skipped: the names in `context` when given (pass the context
    you will plan with, e.g. from `incident_context`), else only service, alert_service,
    incident_id and a known instance (`minimal_variables`). With `backend` and `context`,
    runbooks whose preconditions fail right now are skipped too.
    """
    if not hypotheses:
        return None
    top = hypotheses[0]
    service = topology.get(top.service)
    kind = service.kind if service is not None else "service"
    query = build_query(top, alert_text)
    available = {key for key, value in context.items() if value} if context is not None else minimal_variables(top)
    for service_kind in (kind, None):
        matches = index.search(query, fault_types=[top.fault_type], service_kind=service_kind, k=max(k, 1) * 4)
        ranked: list[tuple[float, str, str]] = []
        for m in matches:
            if m.id not in library.runbooks:
                continue
            runbook = library.get(m.id)
            if not required_variables(runbook) <= available:
                continue
            if backend is not None and context is not None and not _preconditions_hold(runbook, context, backend):
                continue
            weight = 1.0 if runbook.fault_types[0] == top.fault_type else SECONDARY_WEIGHT
            ranked.append((m.score * weight, m.id, m.title))
        ranked.sort(key=lambda r: (-r[0], r[1]))
        if ranked:
            score, best_id, title = ranked[0]
            scope = f"{kind} {top.service}" if service_kind else f"{top.service} (any kind)"
            return RunbookChoice(
                runbook_id=best_id,
                title=title,
                score=round(score, 4),
                reason=f"best match for {top.fault_type.value} on {scope} (retrieval score {score:.2f})",
                target_service=top.service,
                alternatives=[r[1] for r in ranked[1:k]],
            )
    return None


def _preconditions_hold(runbook: Runbook, context: Mapping[str, str], backend: ActionBackend) -> bool:
    try:
        checks = plan_checks(runbook.preconditions, context)
    except InputError:
        return False
    return all(backend.check(c.check, c.params).ok for c in checks)


def callers_of(topology: Topology, service: str) -> list[str]:
    """Services that call `service`, sorted."""
    return sorted({e.caller for e in topology.calls if e.callee == service and e.caller != service})


def _dependency_of(topology: Topology, service: str) -> str | None:
    callees = sorted({e.callee for e in topology.calls if e.caller == service and e.callee != service})
    kinds = {s.name: s.kind for s in topology.services}
    return next((c for c in callees if kinds.get(c) in DATASTORE_KINDS), None)


def incident_context(hypothesis: Hypothesis, topology: Topology, *, alert_service: str | None = None, incident_id: str = "",
                     namespace: str = "default", environment: str = "production", severity: str = "warning",
                     changes: Iterable[Change] = ()) -> dict[str, str]:
    """The placeholder values for one incident (only whitelisted names; empty values are left out)."""
    callers = callers_of(topology, hypothesis.service)
    caller = alert_service if alert_service in callers else (callers[0] if callers else "")
    ctx = {
        "service": hypothesis.service,
        "alert_service": alert_service or hypothesis.service,
        "instance": hypothesis.instance or "",
        "caller": caller,
        "dependency": _dependency_of(topology, hypothesis.service) or "",
        "incident_id": incident_id,
        "namespace": namespace,
        "environment": environment,
        "fault_type": hypothesis.fault_type.value,
        "severity": severity,
    }
    for ch in sorted((c for c in changes if c.service == hypothesis.service), key=lambda c: c.ts):
        if ch.kind == "deploy":
            ctx["version"] = ch.version or ""
            ctx["previous_version"] = ch.previous_version or ""
        elif ch.kind == "config":
            ctx["config_version"] = ch.version or ""
            ctx["previous_config_version"] = ch.previous_version or ""
    return {key: value for key, value in ctx.items() if value}


def plan_steps(runbook: Runbook, context: Mapping[str, str], *, registry: ActionRegistry,
               policy: ApprovalPolicy | None = None) -> list[PlannedStep]:
    """Make every step concrete (index 0-based): placeholders rendered, params validated, risk resolved.

    A step is destructive if its action is, or if the runbook says so; it requires approval
    when destructive, and also wherever `policy` says so (using the context's environment and
    severity). Raises InputError naming the runbook, step and parameter on any problem.
    """
    planned: list[PlannedStep] = []
    for i, step in enumerate(runbook.steps):
        where = f"runbook {runbook.id} step {step.id}"
        params = _validated(registry, step.action, step.params, context, where, f"steps.{i}.params")
        destructive = registry.is_destructive(step.action) or bool(step.destructive)
        gated = destructive if policy is None else requires_approval(
            step.action, destructive=destructive, environment=context.get("environment", "production"),
            severity=context.get("severity", "critical"), policy=policy)
        verify = None
        if step.verify is not None:
            verify = Check(check=step.verify.check, params=_rendered(step.verify.params, context, where, f"steps.{i}.verify"))
        rollback = None
        if step.rollback is not None:
            rollback = StepSpec(action=step.rollback.action,
                                params=_validated(registry, step.rollback.action, step.rollback.params, context, where, f"steps.{i}.rollback"))
        planned.append(PlannedStep(
            index=i, step_id=step.id, title=step.title or step.action, action=step.action, params=params,
            destructive=destructive, requires_approval=gated, timeout_s=step.timeout_s, verify=verify, rollback=rollback,
        ))
    return planned


def plan_checks(checks: Sequence[Check], context: Mapping[str, str], *, registry: CheckRegistry | None = None) -> list[Check]:
    """Render and validate preconditions or post-checks for one incident."""
    registry = registry or default_check_registry()
    out = []
    for i, chk in enumerate(checks):
        params = _rendered(chk.params, context, "check", f"checks.{i}")
        try:
            clean = registry.validate(chk.check, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            raise InputError(str(exc), field=f"checks.{i}") from None
        out.append(Check(check=chk.check, params=clean))
    return out


def _rendered(params: Mapping[str, object], context: Mapping[str, str], where: str, field: str) -> dict:
    try:
        return render(dict(params), context)
    except TemplateError as exc:
        raise InputError(f"{where}: {exc}", field=field) from None


def _validated(registry: ActionRegistry, action: str, params: Mapping[str, object], context: Mapping[str, str],
               where: str, field: str) -> dict:
    rendered = _rendered(params, context, where, field)
    try:
        return registry.validate(action, rendered).model_dump(mode="json", exclude_none=True)
    except ParamsError as exc:
        raise InputError(f"{where}: {exc}", field=field) from None
