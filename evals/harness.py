"""Replay many cases through the incident graph in parallel worker processes and score them."""

from __future__ import annotations

import multiprocessing
import secrets
import time
import traceback
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor, as_completed
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, Field

from lumos.evals.cases import CaseRef, load_truth
from lumos.evals.replay import start_case_incident
from lumos.evals.scoring import CaseScore, score_outcome
from lumos.graph.checkpoint import open_sqlite_checkpointer
from lumos.graph.resources import Resources
from lumos.graph.runner import Decider, IncidentRunner
from lumos.tools.errors import LumosError
from lumos.tools.settings import Settings
from lumos.tools.traces.spans import span_services


class EvalOptions(BaseModel):
    """How cases are replayed."""

    state_dir: Path = Field(description="Where the replayed incidents' checkpoints, audit and worlds go.")
    mode: Literal["offline", "llm"] = "offline"
    approve: Literal["auto", "none"] = Field(default="auto", description="auto: approve every gate as 'eval:auto'; none: stop at the first gate.")
    jobs: int = Field(default=1, ge=1)


@lru_cache(maxsize=4)
def _worker(state_dir: str, mode: str) -> tuple[Settings, IncidentRunner]:
    """One settings + runner per worker process and state folder (built once, reused for every case)."""
    settings = Settings.from_env(home=Path(state_dir), mode=mode)
    settings.state_dir.mkdir(parents=True, exist_ok=True)
    runner = IncidentRunner(Resources.from_settings(settings), open_sqlite_checkpointer(settings.checkpoint_db))
    return settings, runner


def model_usage(values: dict) -> dict[str, int]:
    """Total model calls and tokens over every agent role of an incident (zero offline)."""
    roles = (values.get("llm_usage") or {}).values()
    return {
        "llm_calls": int(sum(r.get("calls", 0) for r in roles)),
        "tokens_in": int(sum(r.get("input_tokens", 0) for r in roles)),
        "tokens_out": int(sum(r.get("output_tokens", 0) for r in roles)),
    }


def _decider(approve: str) -> Decider:
    def decide(request: dict) -> dict | None:
        if approve == "auto":
            return {"decision": "approve", "approver": "eval:auto", "comment": "lumos eval --approve auto"}
        return None

    return decide


def evaluate_case(ref: CaseRef, options: EvalOptions) -> CaseScore:
    """Replay one case and score it; any failure becomes an error row with its reason, never a crash."""
    t0 = time.perf_counter()
    try:
        settings, runner = _worker(str(options.state_dir), options.mode)
        incident_id = f"{ref.name}-{secrets.token_hex(3)}"
        case, outcome = start_case_incident(runner, settings.simenv_db, ref.path, incident_id=incident_id)
        outcome = runner.drive(outcome, _decider(options.approve))
        truth = load_truth(ref.path)
        services = sorted(set(case.topology.service_names()) | set(span_services(case.span_index)) | {m.service for m in case.metrics})
        score = score_outcome(
            case_id=case.info.id, dataset=ref.dataset, path=ref.path, outcome=outcome, truth=truth,
            services=services, alerting=case.alert.service, usage=model_usage(runner.values(incident_id)),
        )
    except LumosError as exc:
        score = CaseScore(id=ref.name, dataset=ref.dataset, path=str(ref.path), status="error", error=str(exc))
    except Exception as exc:  # a crashing case is reported and the run goes on
        where = traceback.extract_tb(exc.__traceback__)[-1]
        reason = f"{type(exc).__name__}: {exc} (at {Path(where.filename).name}:{where.lineno})"
        score = CaseScore(id=ref.name, dataset=ref.dataset, path=str(ref.path), status="error", error=reason)
    return score.model_copy(update={"wall_s": round(time.perf_counter() - t0, 3)})


def run_eval(refs: list[CaseRef], options: EvalOptions, on_result: Callable[[CaseScore], None] | None = None) -> list[CaseScore]:
    """Evaluate every case (in `options.jobs` processes); results keep the order of `refs`."""
    options.state_dir.mkdir(parents=True, exist_ok=True)
    results: dict[int, CaseScore] = {}
    if options.jobs <= 1 or len(refs) <= 1:
        for i, ref in enumerate(refs):
            results[i] = evaluate_case(ref, options)
            if on_result:
                on_result(results[i])
    else:
        workers = min(options.jobs, len(refs))
        with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
            futures = {pool.submit(evaluate_case, ref, options): i for i, ref in enumerate(refs)}
            for future in as_completed(futures):
                i = futures[future]
                results[i] = future.result()
                if on_result:
                    on_result(results[i])
    return [results[i] for i in range(len(refs))]
