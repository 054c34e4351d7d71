"""The diagnosis scoring model: every hand-set weight of the offline root-cause ranking in one typed
object, each with the line of reasoning behind it.

The values are priors about how faults show in telemetry, not fits to one dataset: a weight earns
its place by the mechanism in its description, and `benchmarks/rca_cv.py` checks the ranking they
give out of sample (leave one dataset out). The calibration parameters at the end are the only
fitted numbers; they map a raw ranking score to the probability that the top hypothesis is right,
fitted on out-of-fold scores by `benchmarks/rca_cv.py --fit-calibration`.

Override any of it with a YAML file (`LUMOS_DIAGNOSIS_MODEL=path`): a partial mapping, merged
onto these defaults.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lumos.tools.errors import InputError


class _Part(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _w(value: float, why: str, *, lo: float = 0.0, hi: float | None = 1.0) -> Any:
    """A weight with its reason (the description) and bounds."""
    return Field(default=value, ge=lo, le=hi, description=why)


class LocalWeights(_Part):
    """How much each piece of *local* evidence alone says "the fault is here" (noisy-OR weights)."""

    cpu: float = _w(0.9, "A service's own CPU rising is rarely caused by its callees; it is the most direct footprint of a busy or starved process.")
    memory: float = _w(0.7, "Memory growth is local but also rises with load and caches, so it is a little less specific than CPU.")
    memory_growth: float = _w(0.4, "Memory that keeps climbing through the incident (a leak) or nears its limit is the process's own state, but busy processes also allocate more under load: weak alone.")
    self_time: float = _w(0.8, "Time spent inside the service's own spans, without remote children, is its own code or host.")
    net_in: float = _w(0.6, "A wider network gap on calls *into* a service points at its network (or its queue), shared with the caller side.")
    net_out: float = _w(0.4, "A wider gap on its outgoing calls is more often the callee's network, so it counts less than net_in.")
    calls_changed: float = _w(0.6, "Fewer remote calls per request: the service stopped its own work early (an exception, an early return).")
    calls_blamed: float = _w(0.3, "Requests of other services that end right after calling it: indirect (the caller may cut short for its own reasons).")
    missing_events: float = _w(0.0, "Events an operation's calls contained before the onset stopped coming (an exception that logs nothing). "
                               "Measured out of fold (benchmarks/rca_cv.py --set): on the dev sets the events that vanish are mostly "
                               "in the callers that skip later steps after a callee's error, not in the faulty service, and in the "
                               "TrainTicket exception cases the labelled service's recorded calls do not change; no weight tried "
                               "raised any held-out fold, so it names the fault type and stands as evidence but does not rank.")
    error_origin: float = _w(0.8, "Spans that fail without a failing child: the error is raised here.")
    disk: float = _w(0.6, "Disk filling or I/O saturating is the service's own resource.")
    restarts: float = _w(0.8, "Restarts are the process itself dying.")
    pool: float = _w(0.6, "Connection/thread pools exhausting are local, but also follow slow callees.")
    change: float = _w(0.7, "A change landing on the service just before the onset, weighted by the change's own suspicion.")


class SymptomWeights(_Part):
    """Symptoms: they also appear in every caller of the faulty service."""

    latency: float = _w(0.6, "Latency rises in the faulty service and in everything waiting on it.")
    call_latency: float = _w(0.5, "Per-edge latency measured at the callee: its own serving time, but shared along the path.")
    client_latency: float = _w(0.3, "Latency the service sees on its outgoing calls is mostly its callees' time.")
    errors: float = _w(0.6, "Errors propagate to every caller; as a symptom they weigh like latency.")
    traffic: float = _w(0.2, "Request-rate shifts follow users and retries more often than faults.")


class RankWeights(_Part):
    """How local evidence, symptoms and the call graph combine into one score per service."""

    local: LocalWeights = Field(default_factory=LocalWeights)
    symptom: SymptomWeights = Field(default_factory=SymptomWeights)
    symptom_share: float = _w(0.5, "Unexplained symptoms count half as much as local evidence: they say 'affected', not 'cause'.")
    path_floor: float = _w(0.5, "A service no anomalous path from the alerting service reaches keeps half its score (topologies are incomplete).")
    external_prior: float = _w(0.7, "External nodes are seen from their callers' side only, so an internal explanation wins a close tie.")
    mirror_min_corr: float = _w(0.6, "An external node mirrors an instrumented service when their symptom series correlate at least this much.")
    mirror_transfer: float = _w(0.8, "Share of a mirroring node's score handed to the service behind it (the node only reflects its callee).")
    net_out_guard: float = _w(0.25, "Slow outgoing calls with healthy measured incoming calls point at the callee: net_out keeps this share.")


class LogWeights(_Part):
    """The log analyst's weights, in -log10 p units of its window comparison."""

    notable_strength: float = _w(1.5, "About p = 3%: below this a service has nothing notable in its logs.", hi=None)
    score_scale: float = _w(8.0, "Evidence strength that maps to a 0.63 log score (several independent p < 1% changes).", lo=0.1, hi=None)
    propagation_discount: float = _w(0.6, "Errors whose wording says 'received from a callee' (timeouts, 5xx from a client) count 40% here.")
    blame_share: float = _w(0.5, "Relayed errors that name a callee pass half their strength to it.")
    received_share: float = _w(0.35, "Callers' wording about a callee is weaker fault-type evidence than the callee's own lines.")
    workload_share: float = _w(0.15, "New or bursting ordinary lines mostly follow the request mix, so they count little.")
    uncorroborated_blame: float = _w(0.25, "Blame from callers counts fully only when the named service shows something itself.")
    edge_gap_share: float = _w(0.5, "A longer wait after another service's line measures the edge (either end), so it counts half.")
    notable_share: float = _w(0.5, "Error templates and resource wording in ordinary lines keep half the weight of the error rate.")
    ordinary_template_weight: float = _w(0.3, "A non-error template's increase is worth 30% of an error template's.")
    decrease_weight: float = _w(0.15, "A template that became rarer is weak evidence (requests can simply change).")
    warning_weight: float = _w(0.3, "Warnings are a weaker version of errors.")


class MissingEventWeights(_Part):
    """Expected events (child spans, log lines) of an operation's calls that stop after the onset."""

    min_baseline_share: float = _w(0.8, "An event is 'expected' in an operation's calls when at least this share of its fault-free calls had it.")
    min_baseline_traces: int = Field(default=4, ge=1, description="Fewer fault-free calls than this cannot make an event expected.")
    min_missing: int = Field(default=3, ge=1, description="One or two calls without the event are chance (sampling, a clipped trace); three or more is a pattern.")
    min_share: float = _w(0.15, "A fault that cuts requests short cuts a visible share of the operation's calls; a few stray calls are noise.")


class TraceWeights(_Part):
    """Span statistics: how z-scores of trace shifts become 0-1 evidence."""

    span_z_scale: float = _w(4.0, "Span shifts are per request and per operation, less noisy than a metric's: z = 4 gives a 0.5 score.", lo=0.1, hi=None)
    calls_z: float = _w(2.0, "Fewer remote calls per request count from this many standard errors of the request-to-request "
                        "variation on, and fully from twice as many: with a handful of requests the count varies by chance.", lo=0.1, hi=None)
    edge_shift_z: float = _w(3.0, "A call edge counts as slower (when telling which end a slowdown belongs to) from this z on.", lo=0.0, hi=None)
    outlier_z: float = _w(3.0, "An edge whose gap stands 3 robust deviations above the other edges' is an outlier.", lo=0.0, hi=None)


class OnsetWeights(_Part):
    """Finding the onset in the data and placing the analysis window around it."""

    early_fraction: float = _w(0.7, "A fault's effects build up after it starts: take the earliest split nearly as strong as the best.")
    span_significant: float = _w(9.0, "Per-series between-group score (about a 3-sigma shift) below which a split is noise.", hi=None)
    metric_early_fraction: float = _w(0.9, "Metric samples aggregate a minute or more, so the earliest split nearly as strong as the best is within a sample of it.")
    metric_significant: float = _w(10.0, "F statistic of a two-segment split below which a metric series has no step (about 3 sigma, and above the best split of pure noise).", hi=None)
    max_alert_delay_s: float = _w(900.0, "Alerts fire up to this long after the fault starts (rule `for:` clauses, scrape and rate windows).", hi=None)
    alert_lookback_s: float = _w(120.0, "Without an onset in the data, the incident window opens this long before the alert.", hi=None)
    margin_s: float = _w(60.0, "The incident window opens this long before the detected onset (the detector's resolution).", hi=None)


class ChangeWeights(_Part):
    """Which of several changes triggered the incident."""

    lookback_s: float = _w(6 * 3600.0, "Changes older than this are not considered.", hi=None)
    timing_scale_s: float = _w(900.0, "A change this long before the onset of its own service's symptoms counts e^-1 as much as one right before.", lo=1.0, hi=None)
    late_tolerance_s: float = _w(60.0, "A change up to this long after the estimated onset may still be the trigger (onset estimates have a step).", hi=None)
    off_path: float = _w(0.3, "A changed service with no symptoms of its own and no anomalous path to the alert keeps 30% of the suspicion.")
    distance_decay: float = _w(0.5, "Suspicion halves per call between the changed service and the nearest symptomatic one.")


class FaultTypeWeights(_Part):
    """Fault-type inference from which kinds of evidence a service shows."""

    noise_floor: float = _w(0.05, "Fault-type support below this is noise: the type is `unknown`.")
    memory_weight: float = _w(0.8, "Memory rises with load and caches too, so its support is a little below CPU's for the same score.")


class Calibration(_Part):
    """Platt scaling of how far the top hypothesis leads into P(top hypothesis is the root cause).

    The feature is the log ratio of the top raw score to the runner-up's: scale-free, so it transfers
    between systems whose raw scores sit at different levels (a metrics-only system scores lower
    across the board than one with traces). Fitted out of fold by `benchmarks/rca_cv.py --fit-calibration`.
    """

    slope: float = Field(default=0.2852, description="Weight of log(top / runner-up); fitted on the 95 dev cases (out-of-fold ECE 0.030).")
    intercept: float = Field(default=1.4826, description="Log-odds of a right top hypothesis with an even lead (fitted with the slope).")
    action_threshold: float = _w(0.5, "Below this calibrated confidence the default workflow escalates instead of proposing a destructive runbook.")

    def probability(self, top: float, second: float = 0.0) -> float:
        """P(the hypothesis scored `top` is right) given the best other score `second`."""
        lead = math.log((max(top, 0.0) + _EPS) / (max(second, 0.0) + _EPS))
        x = self.slope * lead + self.intercept
        return 1.0 / (1.0 + math.exp(-max(-40.0, min(40.0, x))))


_EPS = 1e-3


class DiagnosisModel(_Part):
    """Every weight of the offline diagnosis, grouped by the analysis that uses it."""

    rank: RankWeights = Field(default_factory=RankWeights)
    logs: LogWeights = Field(default_factory=LogWeights)
    missing: MissingEventWeights = Field(default_factory=MissingEventWeights)
    traces: TraceWeights = Field(default_factory=TraceWeights)
    onset: OnsetWeights = Field(default_factory=OnsetWeights)
    changes: ChangeWeights = Field(default_factory=ChangeWeights)
    fault_types: FaultTypeWeights = Field(default_factory=FaultTypeWeights)
    log_weight: float = _w(1.0, "Trust in the log analyst's 0-1 score relative to the dependency ranking (noisy-OR of the two).")
    calibration: Calibration = Field(default_factory=Calibration)

    def with_updates(self, updates: dict[str, Any]) -> "DiagnosisModel":
        """A copy with dotted-path updates applied (`{"rank.symptom_share": 0.3}`), validated."""
        data = self.model_dump()
        for path, value in updates.items():
            node = data
            *parents, leaf = path.split(".")
            for p in parents:
                node = node[p]
            if leaf not in node:
                raise KeyError(path)
            node[leaf] = value
        return DiagnosisModel.model_validate(data)


DEFAULT_MODEL = DiagnosisModel()
"""The shipped model (immutable)."""


def _merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in override.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def load_model(path: str | Path | None) -> DiagnosisModel:
    """The shipped model, with a YAML file's (partial) values merged on top when `path` is given."""
    if path is None:
        return DEFAULT_MODEL
    from lumos.tools.casefiles import safe_load_yaml
    from lumos.tools.validation import describe_validation_error

    p = Path(path).expanduser()
    try:
        raw = safe_load_yaml(p.read_text(encoding="utf-8")) or {}
    except FileNotFoundError:
        raise InputError("diagnosis model file not found", path=p) from None
    except Exception as exc:  # yaml errors
        raise InputError(f"invalid YAML: {exc}", path=p) from None
    if not isinstance(raw, dict):
        raise InputError("expected a mapping of diagnosis model sections", path=p)
    try:
        return DiagnosisModel.model_validate(_merge(DEFAULT_MODEL.model_dump(), raw))
    except ValidationError as exc:
        field, message = describe_validation_error(exc)
        raise InputError(message, path=p, field=field) from None
