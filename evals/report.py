"""Write results.json, report.md and report.html (with matplotlib plots) for an evaluation run."""

from __future__ import annotations

import base64
import html
import io
import json
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from lumos.evals.scoring import CaseScore  # noqa: E402

COLUMNS = ("cases", "scored", "errors", "rca_top1", "rca_top3", "fault_type_top1", "runbook_ok", "unsafe_actions", "time_to_diagnosis_s_p50")


def results_document(scores: list[CaseScore], summary: dict[str, Any], meta: dict[str, Any]) -> dict[str, Any]:
    """The results.json object: summary, per-case rows and run metadata."""
    return {"summary": summary, "cases": [s.model_dump(mode="json") for s in scores], "meta": meta}


def _accuracy_plot(summary: dict[str, Any]) -> bytes:
    datasets = list(summary["by_dataset"]) + ["overall"]
    rows = [summary["by_dataset"][d] for d in datasets[:-1]] + [summary["overall"]]
    series = {
        "LUMOS top-1": [r["rca_top1"] for r in rows],
        "LUMOS top-3": [r["rca_top3"] for r in rows],
        "random top-1": [r["baselines"]["random"]["rca_top1"] for r in rows],
        "alerting service top-1": [r["baselines"]["alert_service"]["rca_top1"] for r in rows],
    }
    fig, ax = plt.subplots(figsize=(max(6, 1.6 * len(datasets) + 2), 4))
    width = 0.8 / len(series)
    for i, (label, values) in enumerate(series.items()):
        ax.bar([x + i * width for x in range(len(datasets))], values, width, label=label)
    ax.set_xticks([x + 0.4 - width / 2 for x in range(len(datasets))], datasets, rotation=15)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("accuracy")
    ax.set_title("Root-cause accuracy against baselines")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _png(fig)


def _ttd_plot(scores: list[CaseScore]) -> bytes:
    values = [s.time_to_diagnosis_s for s in scores if s.time_to_diagnosis_s is not None]
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.hist(values or [0.0], bins=min(30, max(5, len(values) // 2)))
    ax.set_xlabel("time to diagnosis (s)")
    ax.set_ylabel("cases")
    ax.set_title("Time-to-diagnosis distribution")
    return _png(fig)


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    return buf.getvalue()


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(summary["by_dataset"].items()) + [("overall", summary["overall"])]


def render_markdown(scores: list[CaseScore], summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """report.md: tables per dataset with baselines, errors and the plots."""
    out = ["# LUMOS evaluation", "", f"Mode: {meta.get('mode')} · approve: {meta.get('approve')} · cases: {len(scores)} · "
           f"wall time: {meta.get('wall_s', 0):.1f} s", "", "## Scores", ""]
    out.append("| dataset | " + " | ".join(COLUMNS) + " | random top-1/3 | alert-service top-1/3 |")
    out.append("|---" * (len(COLUMNS) + 3) + "|")
    for name, row in _table_rows(summary):
        b = row["baselines"]
        out.append(
            f"| {name} | " + " | ".join(_fmt(row.get(c)) for c in COLUMNS)
            + f" | {b['random']['rca_top1']:.3f} / {b['random']['rca_top3']:.3f}"
            + f" | {b['alert_service']['rca_top1']:.3f} / {b['alert_service']['rca_top3']:.3f} |"
        )
    out += ["", "![accuracy](accuracy.png)", "", "![time to diagnosis](time_to_diagnosis.png)", ""]
    errors = [s for s in scores if s.status == "error"]
    if errors:
        out += ["## Errors", ""] + [f"- `{s.dataset}/{s.id}`: {s.error}" for s in errors] + [""]
    misses = [s for s in scores if s.scored and not s.rca_top1]
    if misses:
        out += ["## Top-1 misses", "", "| case | truth | ranked first | rank of truth |", "|---|---|---|---:|"]
        for s in misses:
            rank = s.ranking.index(s.truth_service) + 1 if s.truth_service in s.ranking else "-"
            out.append(f"| {s.dataset}/{s.id} | {s.truth_service} ({s.truth_fault_type}) | {s.ranking[0] if s.ranking else '-'} ({s.fault_type}) | {rank} |")
    return "\n".join(out) + "\n"


def render_html(markdown_tables: str, accuracy_png: bytes, ttd_png: bytes, scores: list[CaseScore], summary: dict[str, Any]) -> str:
    """report.html: the same tables with the plots embedded (one self-contained file)."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in ("dataset",) + COLUMNS + ("random top-1/3", "alert-service top-1/3"))
    body = []
    for name, row in _table_rows(summary):
        b = row["baselines"]
        cells = [name] + [_fmt(row.get(c)) for c in COLUMNS] + [
            f"{b['random']['rca_top1']:.3f} / {b['random']['rca_top3']:.3f}",
            f"{b['alert_service']['rca_top1']:.3f} / {b['alert_service']['rca_top3']:.3f}",
        ]
        body.append("<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in cells) + "</tr>")
    case_rows = "".join(
        "<tr>" + "".join(f"<td>{html.escape(_fmt(v))}</td>" for v in (s.dataset, s.id, s.status, s.truth_service,
                                                                       ", ".join(s.ranking[:3]), s.rca_top1, s.fault_type,
                                                                       s.time_to_diagnosis_s, s.error)) + "</tr>"
        for s in scores
    )
    img = lambda data: f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(data).decode()}">'  # noqa: E731
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>LUMOS evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right}}td:first-child,td:nth-child(2){{text-align:left}}</style>
</head><body><h1>LUMOS evaluation</h1>
<h2>Scores</h2><table><tr>{head}</tr>{''.join(body)}</table>
<h2>Plots</h2>{img(accuracy_png)}{img(ttd_png)}
<h2>Cases</h2><table><tr><th>dataset</th><th>case</th><th>status</th><th>truth</th><th>top-3</th><th>top-1 ok</th><th>fault type</th><th>diagnosis s</th><th>error</th></tr>{case_rows}</table>
</body></html>
"""


def write_reports(out: Path, scores: list[CaseScore], summary: dict[str, Any], meta: dict[str, Any]) -> list[Path]:
    """Write results.json, report.md (+ its PNGs) and report.html into `out`; returns the paths."""
    out.mkdir(parents=True, exist_ok=True)
    accuracy, ttd = _accuracy_plot(summary), _ttd_plot(scores)
    markdown = render_markdown(scores, summary, meta)
    files = {
        "results.json": json.dumps(results_document(scores, summary, meta), indent=2),
        "report.md": markdown,
        "report.html": render_html(markdown, accuracy, ttd, scores, summary),
    }
    written = []
    for name, data in (("accuracy.png", accuracy), ("time_to_diagnosis.png", ttd)):
        (out / name).write_bytes(data)
    for name, text in files.items():
        tmp = out / f".{name}.tmp"
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out / name)
        written.append(out / name)
    return written
