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
    if isinstance(value, bool):
        return "✓" if value else "✗"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


def _table_rows(summary: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    return list(summary["by_dataset"].items()) + [("overall", summary["overall"])]


def _ci(row: dict[str, Any], key: str) -> str:
    ci = row.get(f"{key}_ci95")
    return f"{row[key]:.3f} [{ci[0]:.2f}, {ci[1]:.2f}]" if ci else f"{row[key]:.3f}"


def _majority(row: dict[str, Any]) -> str:
    m = row.get("fault_type_majority")
    return f"{m['rate']:.3f} ({m['fault_type']})" if m else "-"


def summary_sections(scores: list[CaseScore], summary: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """Every table of the report as (title, header, rows) of plain strings: one source for Markdown and HTML."""
    scores_rows = []
    for name, row in _table_rows(summary):
        b = row["baselines"]
        scores_rows.append([name, str(row["cases"]), str(row["errors"]), _ci(row, "rca_top1"), _ci(row, "rca_top3"),
                            _fmt(row["fault_type_top1"]), _majority(row), _fmt(row.get("runbook_ok")), str(row["unsafe_actions"]),
                            _fmt(row["time_to_diagnosis_s_p50"]),
                            f"{b['random']['rca_top1']:.3f} / {b['random']['rca_top3']:.3f}",
                            f"{b['alert_service']['rca_top1']:.3f} / {b['alert_service']['rca_top3']:.3f}"])
    sections = [("Scores", ["dataset", "cases", "errors", "top-1 [95% CI]", "top-3 [95% CI]", "fault type", "most-frequent type",
                            "runbook ok", "unsafe", "TTD p50 s", "random top-1/3", "alert-service top-1/3"], scores_rows)]
    types = summary.get("by_fault_type") or {}
    if types:
        sections.append(("By fault type", ["true fault type", "cases", "top-1", "top-3", "fault type right"],
                         [[k, str(v["cases"]), _fmt(v["rca_top1"]), _fmt(v["rca_top3"]), _fmt(v["fault_type_top1"])] for k, v in types.items()]))
    cal = summary.get("calibration") or {}
    if cal.get("n"):
        sections.append((f"Calibration of the top confidence (Brier {cal['brier']:.3f}, ECE {cal['ece']:.3f}, {cal['n']} cases)",
                         ["confidence", "cases", "mean confidence", "top-1 accuracy"],
                         [[f"{b['low']:.1f}-{b['high']:.1f}", str(b["n"]), f"{b['confidence']:.2f}", f"{b['accuracy']:.2f}"]
                          for b in cal["bins"] if b["n"]]))
    errors = [s for s in scores if s.status == "error"]
    if errors:
        sections.append(("Errors (each counts as a miss)", ["case", "error"], [[f"{s.dataset}/{s.id}", s.error or ""] for s in errors]))
    misses = [s for s in scores if s.scored and not s.rca_top1]
    if misses:
        rows = []
        for s in misses:
            rank = s.ranking.index(s.truth_service) + 1 if s.truth_service in s.ranking else "-"
            rows.append([f"{s.dataset}/{s.id}", f"{s.truth_service} ({s.truth_fault_type})",
                         f"{s.ranking[0] if s.ranking else '-'} ({s.fault_type})", str(rank)])
        sections.append(("Top-1 misses", ["case", "truth", "ranked first", "rank of truth"], rows))
    return sections


def case_rows(scores: list[CaseScore]) -> tuple[list[str], list[list[str]]]:
    """The per-case table: header and rows."""
    header = ["dataset", "case", "status", "truth", "top-3", "top-1", "top-3 hit", "fault type", "type right", "confidence", "diagnosis s", "error"]
    rows = [[s.dataset, s.id, s.status, f"{s.truth_service or '-'} ({s.truth_fault_type or '-'})", ", ".join(s.ranking[:3]),
             _fmt(s.rca_top1), _fmt(s.rca_top3), _fmt(s.fault_type), _fmt(s.fault_type_top1), _fmt(s.confidence),
             _fmt(s.time_to_diagnosis_s), s.error or ""] for s in scores]
    return header, rows


def _md_table(header: list[str], rows: list[list[str]]) -> list[str]:
    esc = lambda c: c.replace("|", "\\|")  # noqa: E731
    return ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)] + ["| " + " | ".join(esc(c) for c in r) + " |" for r in rows]


def render_markdown(scores: list[CaseScore], summary: dict[str, Any], meta: dict[str, Any]) -> str:
    """report.md: scores per dataset with 95% intervals and baselines, per fault type, calibration,
    errors, misses, the plots and every case."""
    out = ["# LUMOS evaluation", "", f"Mode: {meta.get('mode')} · approve: {meta.get('approve')} · cases: {len(scores)} · "
           f"wall time: {meta.get('wall_s', 0):.1f} s", ""]
    for i, (title, header, rows) in enumerate(summary_sections(scores, summary)):
        out += [f"## {title}", ""] + _md_table(header, rows) + [""]
        if i == 0:
            out += ["![accuracy](accuracy.png)", "", "![time to diagnosis](time_to_diagnosis.png)", ""]
    header, rows = case_rows(scores)
    out += ["## Cases", ""] + _md_table(header, rows)
    return "\n".join(out) + "\n"


def _html_table(header: list[str], rows: list[list[str]], links: list[str | None] | None = None) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in header)
    body = []
    for i, r in enumerate(rows):
        cells = [html.escape(c) for c in r]
        if links and links[i]:
            cells[1] = f'<a href="{html.escape(links[i])}">{cells[1]}</a>'
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def render_html(markdown_tables: str, accuracy_png: bytes, ttd_png: bytes, scores: list[CaseScore], summary: dict[str, Any]) -> str:
    """report.html: everything report.md holds (tables, plots, errors, misses, calibration) and the
    per-case table with links to each case folder, in one self-contained file."""
    img = lambda data: f'<img alt="plot" src="data:image/png;base64,{base64.b64encode(data).decode()}">'  # noqa: E731
    parts = []
    for i, (title, header, rows) in enumerate(summary_sections(scores, summary)):
        parts.append(f"<h2>{html.escape(title)}</h2>{_html_table(header, rows)}")
        if i == 0:
            parts.append(f"<h2>Plots</h2>{img(accuracy_png)}{img(ttd_png)}")
    header, rows = case_rows(scores)
    links = [Path(s.path).resolve().as_uri() if s.path else None for s in scores]
    parts.append(f"<h2>Cases</h2>{_html_table(header, rows, links)}")
    return f"""<!doctype html><html><head><meta charset="utf-8"><title>LUMOS evaluation</title>
<style>body{{font-family:system-ui,sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:1.5em}}td,th{{border:1px solid #ccc;padding:4px 8px;text-align:right;white-space:nowrap}}td:first-child,td:nth-child(2){{text-align:left}}</style>
</head><body><h1>LUMOS evaluation</h1>
{''.join(parts)}
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
