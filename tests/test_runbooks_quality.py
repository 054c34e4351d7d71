"""Retrieval quality of the lexical index: a labelled set of symptom/alert texts, recall@1/@3,
also over a 1,000-runbook library (its latency is measured by benchmarks/runbooks_retrieval.py). The figures are printed with `pytest -s` for the notes."""

from __future__ import annotations

import random

import pytest

from lumos.tools.domain import Runbook
from lumos.tools.runbooks import LexicalRunbookIndex, RunbookLibrary

# (text an on-call engineer or an alert would contain, runbooks accepted as the right answer)
LABELLED: list[tuple[str, set[str]]] = [
    ("KubePodCrashLooping: pod checkout-7d9 is in CrashLoopBackOff", {"restart-crash-looping-service"}),
    ("container keeps restarting, back-off restarting failed container", {"restart-crash-looping-service"}),
    ("process panicked and exited with code 2, restarted 12 times", {"restart-crash-looping-service"}),
    ("new pods never become ready after the rollout, startup exception", {"rollback-crash-looping-release"}),
    ("rollout stuck progressing, new version crashes on startup", {"rollback-crash-looping-release"}),
    ("java.lang.OutOfMemoryError: Java heap space", {"restart-leaking-service", "restart-oom-killed-service"}),
    ("memory grows steadily for hours, GC pauses over 2 s", {"restart-leaking-service"}),
    ("heap usage at 98% of the limit and latency climbing", {"restart-leaking-service"}),
    ("container terminated: OOMKilled, exit code 137", {"restart-oom-killed-service"}),
    ("kernel out of memory killer terminated the process", {"restart-oom-killed-service"}),
    ("CPUThrottlingHigh on payment pods, p99 latency up with traffic", {"scale-out-cpu-saturated-service"}),
    ("cpu usage 100% on all replicas, requests queueing", {"scale-out-cpu-saturated-service"}),
    ("high load average and slow responses under load", {"scale-out-cpu-saturated-service", "shed-load-overloaded-service"}),
    ("one thread spinning at 100% CPU though traffic is flat", {"restart-runaway-cpu-process"}),
    ("regex catastrophic backtracking pegs the CPU", {"restart-runaway-cpu-process"}),
    ("request rate tripled, thread pool saturated, 429 too many requests", {"shed-load-overloaded-service"}),
    ("RejectedExecutionException: request queue full", {"shed-load-overloaded-service"}),
    ("error rate jumped right after deploy of v2.3.1", {"rollback-bad-deploy"}),
    ("regression in the latest release, new image rolled out at 02:41", {"rollback-bad-deploy"}),
    ("failures coincide with the rollout of the new version", {"rollback-bad-deploy"}),
    ("HTTP 500 internal server error with NullPointerException", {"rollback-faulty-release-exceptions", "restart-erroring-service"}),
    ("unhandled exception stack traces on /api/orders, 5xx responses", {"rollback-faulty-release-exceptions", "restart-erroring-service"}),
    ("injected fault: service throws exceptions, no recent deploy", {"restart-erroring-service"}),
    ("requests failing with internal errors but nothing was deployed", {"restart-erroring-service"}),
    ("wrong totals returned with HTTP 200, logic bug", {"rollback-wrong-results"}),
    ("customers see incorrect prices, downstream validation fails", {"rollback-wrong-results"}),
    ("API returns unexpected response content after the update", {"rollback-wrong-results", "clear-stale-cache"}),
    ("stale product data served from the cache after an update", {"clear-stale-cache"}),
    ("cache poisoning: corrupted entries returned", {"clear-stale-cache"}),
    ("instances return inconsistent responses, old values in cache", {"clear-stale-cache"}),
    ("errors started after a configuration change to the DB endpoint", {"revert-config-change"}),
    ("config reload at 10:02 followed by failures", {"revert-config-change"}),
    ("timeout setting changed, now calls time out", {"revert-config-change"}),
    ("wrong credentials in the new configuration", {"revert-config-change"}),
    ("feature flag new-checkout enabled, checkout path fails", {"revert-feature-flag"}),
    ("experiment rollout toggled and requests broke", {"revert-feature-flag"}),
    ("PostgreSQL primary unreachable, connection refused", {"failover-primary-database"}),
    ("MySQL communications link failure, all callers failing", {"failover-primary-database"}),
    ("database down: cannot connect to primary", {"failover-primary-database"}),
    ("redis connection refused, cache unavailable", {"failover-cache-cluster"}),
    ("Kafka broker down, leader election failed", {"failover-cache-cluster"}),
    ("third-party payment API outage, calls time out", {"circuit-break-down-dependency"}),
    ("cascading failures from one downstream service being down", {"circuit-break-down-dependency"}),
    ("read timeout calling the inventory service, slow dependency", {"circuit-break-slow-dependency"}),
    ("connection reset by peer and retransmissions to downstream", {"circuit-break-slow-dependency", "drain-bad-instance"}),
    ("one pod much slower than the others, network latency on that node", {"drain-bad-instance"}),
    ("packet loss on host ip-10-0-3-7 only", {"drain-bad-instance"}),
    ("timeouts only from instance web-3", {"drain-bad-instance"}),
    ("No space left on device writing to /var/log", {"free-disk-space"}),
    ("disk usage 97% on the data volume, writes failing", {"free-disk-space"}),
    ("cannot create temp file: disk full", {"free-disk-space"}),
    ("HikariPool-1 - Connection is not available, request timed out after 30000ms", {"raise-connection-pool"}),
    ("connection pool exhausted, threads waiting for a database connection", {"raise-connection-pool"}),
    ("too many clients waiting for a connection from the pool", {"raise-connection-pool"}),
]


@pytest.fixture(scope="module")
def index() -> LexicalRunbookIndex:
    return LexicalRunbookIndex(RunbookLibrary.load())


def recall_at(index: LexicalRunbookIndex, k: int) -> float:
    hits = sum(bool({m.id for m in index.search(text, k=k)} & accepted) for text, accepted in LABELLED)
    return hits / len(LABELLED)


def test_labelled_set_is_large_and_valid() -> None:
    ids = set(RunbookLibrary.load().runbooks)
    assert len(LABELLED) >= 50
    assert all(accepted <= ids for _, accepted in LABELLED)
    assert {i for _, a in LABELLED for i in a} == ids  # every runbook is the answer to something


def test_recall(index: LexicalRunbookIndex) -> None:
    r1, r3 = recall_at(index, 1), recall_at(index, 3)
    print(f"\nBM25 recall@1={r1:.3f} recall@3={r3:.3f} over {len(LABELLED)} labelled texts")
    assert r1 >= 0.85 and r3 >= 0.95


def synthetic_library(n: int, seed: int = 7) -> RunbookLibrary:
    """n runbooks: the bundled ones plus variants with shuffled, re-mixed text (deterministic)."""
    rng = random.Random(seed)
    base = RunbookLibrary.load().all()
    words = sorted({w for rb in base for w in (rb.description + " " + " ".join(rb.symptoms)).split()})
    runbooks = {rb.id: rb for rb in base}
    i = 0
    while len(runbooks) < n:
        src = base[i % len(base)]
        i += 1
        extra = " ".join(rng.choices(words, k=30))
        runbooks[f"{src.id}-v{i}"] = Runbook.model_validate({
            **src.model_dump(mode="json"), "id": f"{src.id}-v{i}", "description": f"{src.description} {extra}",
            "symptoms": rng.sample(src.symptoms, k=max(1, len(src.symptoms) // 2)),
        })
    return RunbookLibrary(runbooks=runbooks)


def base_id(runbook_id: str) -> str:
    """The bundled runbook a generated variant was made from (`free-disk-space-v17` -> `free-disk-space`)."""
    head, _, tail = runbook_id.rpartition("-v")
    return head if head and tail.isdigit() else runbook_id


def test_a_1000_runbook_library_still_finds_the_right_runbook() -> None:
    """Variants crowd the index; the answer (or a variant of it) stays in the top 3.

    Query latency over 1,000 runbooks is measured by benchmarks/runbooks_retrieval.py, never asserted in a test."""
    library = synthetic_library(1000)
    assert len(library) == 1000
    index = LexicalRunbookIndex(library)
    hits = sum(bool({base_id(m.id) for m in index.search(text, k=3)} & accepted) for text, accepted in LABELLED)
    print(f"\n1000 runbooks: BM25 recall@3={hits / len(LABELLED):.3f} (variants count as their base runbook)")
    assert hits / len(LABELLED) >= 0.9
