"""`lumos triage`: a chat session on one incident. Slash commands always work (offline too); free
text goes to the coordinator model when one is configured. Approvals are asked inline and recorded
through the graph's gate; the chat history is kept in the checkpointer."""

from __future__ import annotations

import re
import shlex
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any, Optional, TextIO

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lumos.agents.llm.chat import ChatHistory, chat_tools
from lumos.agents.llm.config import ModelFactory, settings_model_factory
from lumos.agents.llm.coordinator_agent import chat_llm
from lumos.app.cli.errors import fail, user_errors
from lumos.app.cli.incident_cmds import APPROVER_OPTION, HOME_OPTION, _approver
from lumos.app.cli.render import approval_panel, hypotheses_table, make_console, plan_table, progress_printer
from lumos.app.session import Session
from lumos.evals.replay import start_case_incident
from lumos.graph.gate import GateMismatch, bind
from lumos.graph.runner import IncidentOutcome
from lumos.graph.sources import open_sources
from lumos.tools.changes import correlate_changes
from lumos.tools.logs.source import FileLogSource, LogQuery, safe_aggregate, safe_query
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.topology.queries import blast_radius, downstream, upstream

HELP = """Commands (they work offline; anything else is a question for the coordinator model):
  /logs SERVICE [WINDOW]  log lines and top templates; WINDOW: incident (default), baseline, all, or 10m/2h (around the alert)
  /deps SERVICE           callers, callees and blast radius
  /changes                deploys and config changes before the incident, most suspicious first
  /hypotheses             ranked root-cause hypotheses
  /runbooks TEXT          search the runbook library
  /plan                   the planned runbook steps and what is waiting for approval
  /approve N | /reject N  decide the pending step N (only the approval gate can run a destructive step)
  /audit                  the incident's audit trail
  /help  /quit"""
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f\x9b]")
_DURATION = re.compile(r"^(\d+)([smhd])$")


def clean(text: Any, limit: int = 400) -> str:
    """Untrusted text made safe for a terminal: control/escape characters removed, length bounded."""
    return _CONTROL.sub("?", str(text).replace("\r\n", " ").replace("\n", " ").replace("\t", " "))[:limit]


def _lines(stream: TextIO, interactive: bool, console: Console) -> Iterator[str | None]:
    """Input lines; None for a Ctrl-C at the prompt (interactive only). Ends at EOF."""
    while True:
        try:
            line = input("triage> ") if interactive else stream.readline()
        except EOFError:
            return
        except KeyboardInterrupt:
            if not interactive:
                return
            console.print("\n(interrupted; type /quit to leave)", markup=False, highlight=False)
            yield None
            continue
        if not interactive and line == "":
            return
        yield line.strip()


class TriageChat:
    """One triage session on an incident: dispatches slash commands and free-text questions."""

    def __init__(self, session: Session, incident_id: str, console: Console, *, approver: str, models: ModelFactory | None = None):
        self.session, self.incident_id, self.console, self.approver = session, incident_id, console, approver
        self.models = models if models is not None else settings_model_factory(session.settings)
        self.history = ChatHistory(session.runner.graph.checkpointer, incident_id)
        self.shown: dict[str, Any] | None = None
        """The approval request this chat last showed: /approve and /reject are bound to its gate."""
        self.commands: dict[str, Callable[[list[str]], None]] = {
            "/logs": self.logs, "/deps": self.deps, "/changes": self.changes, "/hypotheses": self.hypotheses,
            "/runbooks": self.runbooks, "/plan": self.plan, "/approve": self.approve, "/reject": self.reject,
            "/audit": self.audit, "/help": self.help,
        }

    # -- plumbing ---------------------------------------------------------------------------
    def outcome(self) -> IncidentOutcome:
        """The incident's current outcome from the checkpointer."""
        return self.session.runner.outcome(self.incident_id)

    def values(self) -> dict[str, Any]:
        """The incident's checkpointed state."""
        return self.session.runner.values(self.incident_id)

    def say(self, text: str) -> None:
        """Print untrusted text verbatim (no rich markup interpretation)."""
        self.console.print(text, markup=False, highlight=False)

    def handle(self, line: str) -> bool:
        """Run one input line; False when the session should end."""
        if not line:
            return True
        if line.split()[0] in ("/quit", "/exit", "/q"):
            return False
        if not line.startswith("/"):
            self.ask(line)
            return True
        try:
            parts = shlex.split(line)
        except ValueError:
            parts = line.split()
        handler = self.commands.get(parts[0].lower())
        if handler is None:
            self.say(f"unknown command {clean(parts[0], 40)}; /help lists the commands")
            return True
        try:
            handler(parts[1:])
        except KeyboardInterrupt:
            self.say("interrupted; the incident state is checkpointed")
        self.history.add(line, f"(ran {parts[0]})")
        return True

    def run(self, stream: TextIO, interactive: bool) -> None:
        """Read commands until /quit or end of input."""
        self.say(f"Triage of incident {self.incident_id}. /help lists the commands.")
        self.announce_pending()
        for line in _lines(stream, interactive, self.console):
            if line is not None and not self.handle(line):
                break
        self.say("bye; the incident state and this chat are checkpointed")

    def announce_pending(self) -> None:
        """Show the pending approval request inline, if the incident is waiting at a gate."""
        outcome = self.outcome()
        self.shown = outcome.pending
        if outcome.waiting:
            request = outcome.pending or {}
            self.console.print(approval_panel(request), highlight=False)
            n = request.get("step_index")
            self.say(f"  -> answer with /approve {n} or /reject {n}")
        elif outcome.status in ("resolved", "escalated"):
            self.say(f"Incident status: {outcome.status}" + (f" ({clean(outcome.escalation)})" if outcome.escalation else ""))

    # -- commands -----------------------------------------------------------------------------
    def help(self, args: list[str]) -> None:
        """/help"""
        self.say(HELP)

    def hypotheses(self, args: list[str]) -> None:
        """/hypotheses"""
        outcome = self.outcome()
        if not outcome.hypotheses:
            self.say("no hypotheses yet")
            return
        self.console.print(hypotheses_table(outcome))

    def plan(self, args: list[str]) -> None:
        """/plan"""
        outcome = self.outcome()
        if not outcome.plan:
            self.say(f"no plan (status {outcome.status}{'; ' + clean(outcome.escalation) if outcome.escalation else ''})")
            return
        self.console.print(plan_table(outcome))
        self.announce_pending()

    def _window(self, spec: str) -> tuple[Any, Any] | None:
        values = self.values()
        triage, alert = values.get("triage"), values["alert"]
        if spec in ("incident", "baseline") and triage is not None:
            w = triage.incident_window if spec == "incident" else triage.baseline_window
            return w.start, w.end
        if spec == "all":
            return None, None
        match = _DURATION.match(spec)
        if not match:
            raise ValueError(f"window {spec!r}: use incident, baseline, all or a duration like 10m")
        span = timedelta(seconds=int(match.group(1)) * {"s": 1, "m": 60, "h": 3600, "d": 86400}[match.group(2)])
        return alert.starts_at - span, alert.starts_at + span

    def logs(self, args: list[str]) -> None:
        """/logs SERVICE [WINDOW]"""
        if not args:
            self.say("usage: /logs SERVICE [WINDOW]")
            return
        try:
            start, end = self._window(args[1] if len(args) > 1 else "incident") or (None, None)
        except ValueError as exc:
            self.say(str(exc))
            return
        source = FileLogSource(open_sources(self.values().get("sources")).logs)
        q = LogQuery(services=[args[0]], start=start, end=end, limit=1000)
        agg = safe_aggregate(source, q, group_by="template", bucket_seconds=86400.0)
        page = safe_query(source, q)
        if page.status != "success" or page.page is None:
            self.say(f"no log lines for {clean(args[0], 80)} in that window ({page.error or page.status})")
            return
        records = page.page.records
        levels: dict[str, int] = {}
        for r in records:
            levels[r.level or "NONE"] = levels.get(r.level or "NONE", 0) + 1
        self.say(f"{page.page.total} lines; levels: " + ", ".join(f"{k}={v}" for k, v in sorted(levels.items())))
        if agg.aggregation is not None:
            table = Table(title="Top templates")
            table.add_column("count", justify="right")
            table.add_column("template")
            for key, count in list(agg.aggregation.totals.items())[:5]:
                table.add_row(str(count), escape(clean(agg.aggregation.templates.get(key, key), 160)))
            self.console.print(table)
        for r in records[-10:]:
            self.say(f"  {r.ts.isoformat()} {r.level or '-':5} {clean(r.message, 200)}")

    def deps(self, args: list[str]) -> None:
        """/deps SERVICE"""
        if not args:
            self.say("usage: /deps SERVICE")
            return
        graph, _ = build_call_graph(open_sources(self.values().get("sources")).topology)
        service = args[0]
        if service not in graph:
            self.say(f"unknown service {clean(service, 80)}; known: {', '.join(sorted(graph.nodes))}")
            return
        radius = blast_radius(graph, service)
        self.say(f"{service}\n  callers: {', '.join(n.service for n in upstream(graph, service)) or '-'}"
                 f"\n  callees: {', '.join(n.service for n in downstream(graph, service)) or '-'}"
                 f"\n  blast radius: {', '.join(radius.affected) or '-'} (user-facing: {', '.join(radius.user_facing) or '-'};"
                 f" impact {radius.impact:.2f})")

    def changes(self, args: list[str]) -> None:
        """/changes"""
        values = self.values()
        sources, triage = open_sources(values.get("sources")), values.get("triage")
        onset = triage.incident_window.start if triage else values["alert"].starts_at
        graph, _ = build_call_graph(sources.topology)
        found = correlate_changes(sources.changes, onset, triage.focus_services if triage else [], graph)
        if not found:
            self.say("no changes recorded before the incident")
            return
        table = Table(title="Changes before the incident")
        for col in ("service", "kind", "version", "before onset", "suspicion", "summary"):
            table.add_column(col)
        for c in found[:10]:
            table.add_row(escape(clean(c.change.service, 60)), escape(clean(c.change.kind, 40)), escape(clean(c.change.version or "-", 40)),
                          f"{c.seconds_before_onset / 60:.0f} min", f"{c.suspicion:.2f}", escape(clean(c.change.summary, 80)))
        self.console.print(table)

    def runbooks(self, args: list[str]) -> None:
        """/runbooks TEXT"""
        if not args:
            self.say("usage: /runbooks TEXT")
            return
        matches = self.session.resources.index.search(" ".join(args), k=5)
        if not matches:
            self.say("no runbook matches")
            return
        table = Table(title="Runbooks")
        for col in ("id", "title", "fault types", "score"):
            table.add_column(col)
        for m in matches:
            table.add_row(escape(m.id), escape(clean(m.title, 80)), ", ".join(m.fault_types), f"{m.score:.2f}")
        self.console.print(table)

    def _decide(self, args: list[str], decision: str) -> None:
        """Decide the gate this chat last showed; if the incident has moved on to another gate, nothing runs."""
        outcome = self.outcome()
        if not args or not args[0].isdigit():
            self.say(f"usage: /{decision} N (the step number shown in the approval request)")
            return
        if not outcome.waiting:
            self.say(f"nothing is waiting for approval (status: {outcome.status})")
            return
        shown = self.shown or outcome.pending or {}
        if int(args[0]) != shown.get("step_index"):
            self.say(f"step {args[0]} is not waiting for approval; step {shown.get('step_index')} is")
            return
        payload = bind(shown, {"decision": decision, "approver": self.approver, "comment": f"{decision}d in lumos triage"})
        try:
            outcome = self.session.runner.resume(self.incident_id, payload, progress=progress_printer(self.console))
        except GateMismatch as exc:
            self.say(f"not {decision}d: {exc}")
            self.announce_pending()
            return
        self.say(f"step {shown.get('step_index')} {decision}d by {self.approver}; status: {outcome.status}")
        self.announce_pending()

    def approve(self, args: list[str]) -> None:
        """/approve N"""
        self._decide(args, "approve")

    def reject(self, args: list[str]) -> None:
        """/reject N"""
        self._decide(args, "reject")

    def audit(self, args: list[str]) -> None:
        """/audit"""
        trail = self.session.resources.audit
        events = trail.events(self.incident_id)
        for e in events[-30:]:
            when = e.ts.strftime("%H:%M:%S") if hasattr(e.ts, "strftime") else str(e.ts)[11:19]
            self.say(f"  {e.seq:4} {when} {e.kind:22} {clean(e.actor, 40)}")
        self.say(f"{len(events)} records; chain {'verified' if trail.verify(self.incident_id).ok else 'BROKEN'}")

    # -- free text ------------------------------------------------------------------------------
    def ask(self, question: str) -> None:
        """Send a question to the coordinator model (when configured) with read-only tools."""
        try:
            model = self.models("coordinator")
        except Exception as exc:  # a bad model spec: say so, keep the session alive
            self.say(f"model unavailable ({clean(exc, 200)}); slash commands still work (/help)")
            return
        if model is None:
            self.say("No model is configured (mode offline): use the slash commands (/help). "
                     "Set OPENAI_API_KEY or OPENAI_BASE_URL (or LUMOS_MODE=llm) to chat with the coordinator.")
            return
        values = self.values()
        sources = open_sources(values.get("sources"))
        outcome = chat_llm(model, self.session.settings, incident_id=self.incident_id, alert=values["alert"],
                           services=sources.topology.service_names(), tools=chat_tools(values, sources), question=question,
                           history=self.history.transcript())
        self.session.resources.audit.append(self.incident_id, "llm.chat", outcome.audit_data(), actor="agent:coordinator")
        answer = outcome.report.answer if outcome.used_model else f"{outcome.report.answer} ({clean(outcome.fallback_reason, 200)})"
        self.say(answer)
        self.history.add(question, answer)


def triage_command(
    case: Optional[Path] = typer.Option(None, "--case", help="Start an incident from a case folder and triage it."),
    incident: Optional[str] = typer.Option(None, "--incident", help="Triage an existing incident (its id)."),
    home: Optional[Path] = HOME_OPTION,
    approver: Optional[str] = APPROVER_OPTION,
) -> None:
    """Chat about an incident: slash commands (/help lists them; they work offline) and free-text questions for the
    coordinator model (when one is configured). Destructive steps run only after /approve N."""
    if (case is None) == (incident is None):
        raise fail("give exactly one of --case DIR or --incident ID")
    console = make_console()
    session = Session.open(home)
    if case is not None:
        if not case.is_dir():
            raise fail(f"--case {case}: not a folder")
        _, outcome = start_case_incident(session.runner, session.settings.simenv_db, case, progress=progress_printer(console))
        incident_id = outcome.incident_id
    else:
        incident_id = str(incident)
        if not session.runner.exists(incident_id):
            raise fail(f"unknown incident {incident_id!r} (state folder {session.settings.state_dir})")
    chat = TriageChat(session, incident_id, console, approver=_approver(approver))
    chat.run(sys.stdin, interactive=sys.stdin.isatty())


def register(app: typer.Typer) -> None:
    """Add `lumos triage` to the main app."""
    app.command("triage")(user_errors(triage_command))


if __name__ == "__main__":  # `python -m lumos.app.cli.triage_cmd --case DIR` before main.py registers it
    standalone = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    register(standalone)
    standalone(sys.argv[1:])
