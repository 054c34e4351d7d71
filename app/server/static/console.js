// LUMOS web console: talks to the API with the user's bearer token; renders with textContent only.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { token: sessionStorage.getItem("lumos-token") || "", selected: null, stream: null };

  function el(tag, text, cls) {
    const node = document.createElement(tag);
    if (text !== undefined && text !== null) node.textContent = String(text);
    if (cls) node.className = cls;
    return node;
  }

  async function api(path, options) {
    const opts = Object.assign({ headers: {} }, options || {});
    opts.headers["Authorization"] = "Bearer " + state.token;
    const res = await fetch(path, opts);
    const body = (res.headers.get("content-type") || "").includes("json") ? await res.json() : await res.text();
    if (!res.ok) {
      const detail = body && body.detail ? (typeof body.detail === "string" ? body.detail : JSON.stringify(body.detail)) : res.statusText;
      throw new Error(res.status + ": " + detail);
    }
    return body;
  }

  function fill(list, items, render) {
    list.replaceChildren();
    if (!items.length) list.appendChild(el("li", "none"));
    items.forEach((item) => list.appendChild(render(item)));
  }

  async function loadList() {
    if (!state.token) return;
    try {
      const rows = await api("/incidents?limit=200");
      $("whoami").textContent = "connected";
      const body = $("incidents").querySelector("tbody");
      body.replaceChildren();
      rows.forEach((row) => {
        const tr = el("tr");
        tr.dataset.id = row.incident_id;
        if (row.incident_id === state.selected) tr.classList.add("selected");
        const status = row.run_state === "waiting" ? "awaiting approval" : row.status;
        [row.incident_id, row.title, status, row.alerts_firing + "/" + row.alerts_total + " " + row.alert_status,
         new Date(row.created_at * 1000).toISOString().replace("T", " ").slice(0, 19)].forEach((v, i) => {
          tr.appendChild(el("td", v, i === 2 ? "status-" + (row.run_state === "waiting" ? "waiting" : row.status) : ""));
        });
        tr.addEventListener("click", () => select(row.incident_id));
        body.appendChild(tr);
      });
      $("list-empty").hidden = rows.length > 0;
    } catch (err) {
      $("whoami").textContent = String(err.message);
    }
  }

  function parseMermaid(text) {
    const nodes = new Map(), edges = [], classes = new Map(), styles = new Map();
    text.split("\n").forEach((raw) => {
      const line = raw.trim();
      let m;
      if ((m = line.match(/^(\w+)\["([^"]*)"\]$/))) nodes.set(m[1], m[2]);
      else if ((m = line.match(/^(\w+)\s*-->(?:\|([^|]*)\|)?\s*(\w+)$/))) edges.push([m[1], m[3], m[2] || ""]);
      else if ((m = line.match(/^classDef (\w+) fill:(#[0-9a-fA-F]{3,6})/))) styles.set(m[1], m[2]);
      else if ((m = line.match(/^class (\w+) (\w+)$/))) classes.set(m[1], m[2]);
    });
    return { nodes, edges, classes, styles };
  }

  function drawDeps(text) {
    const holder = $("deps-svg");
    holder.replaceChildren();
    $("deps").textContent = text || "no dependency report";
    if (!text) return;
    const g = parseMermaid(text);
    const ids = [...g.nodes.keys()];
    const layer = new Map(ids.map((id) => [id, 0]));
    for (let pass = 0; pass < ids.length; pass++) {
      g.edges.forEach(([a, b]) => { if (layer.get(b) <= layer.get(a) && layer.get(a) < ids.length) layer.set(b, layer.get(a) + 1); });
    }
    const columns = new Map();
    ids.forEach((id) => { const l = layer.get(id); if (!columns.has(l)) columns.set(l, []); columns.get(l).push(id); });
    const pos = new Map(), W = 130, H = 44;
    columns.forEach((col, l) => col.forEach((id, i) => pos.set(id, [20 + l * (W + 40), 20 + i * (H + 16)])));
    const width = 40 + columns.size * (W + 40), height = 40 + Math.max(...[...columns.values()].map((c) => c.length)) * (H + 16);
    const NS = "http://www.w3.org/2000/svg";
    const svg = document.createElementNS(NS, "svg");
    svg.setAttribute("id", "deps-graph");
    svg.setAttribute("width", width);
    svg.setAttribute("height", height);
    const defs = document.createElementNS(NS, "defs"), marker = document.createElementNS(NS, "marker"), tip = document.createElementNS(NS, "path");
    marker.setAttribute("id", "arrow"); marker.setAttribute("viewBox", "0 0 10 10"); marker.setAttribute("refX", "10"); marker.setAttribute("refY", "5");
    marker.setAttribute("markerWidth", "7"); marker.setAttribute("markerHeight", "7"); marker.setAttribute("orient", "auto-start-reverse");
    tip.setAttribute("d", "M 0 0 L 10 5 L 0 10 z"); tip.setAttribute("fill", "#667");
    marker.appendChild(tip); defs.appendChild(marker); svg.appendChild(defs);
    g.edges.forEach(([a, b]) => {
      const [x1, y1] = pos.get(a) || [0, 0], [x2, y2] = pos.get(b) || [0, 0];
      const line = document.createElementNS(NS, "line");
      line.setAttribute("x1", x1 + W); line.setAttribute("y1", y1 + H / 2);
      line.setAttribute("x2", x2); line.setAttribute("y2", y2 + H / 2);
      line.setAttribute("stroke", "#667"); line.setAttribute("stroke-width", "1.5"); line.setAttribute("marker-end", "url(#arrow)");
      svg.appendChild(line);
    });
    ids.forEach((id) => {
      const [x, y] = pos.get(id);
      const rect = document.createElementNS(NS, "rect");
      rect.setAttribute("x", x); rect.setAttribute("y", y); rect.setAttribute("width", W); rect.setAttribute("height", H);
      rect.setAttribute("rx", "6"); rect.setAttribute("stroke", "#445");
      rect.setAttribute("fill", g.styles.get(g.classes.get(id)) || "#eef");
      const label = document.createElementNS(NS, "text");
      label.setAttribute("x", x + 8); label.setAttribute("y", y + H / 2 + 4);
      label.textContent = g.nodes.get(id);
      svg.appendChild(rect); svg.appendChild(label);
    });
    holder.appendChild(svg);
  }

  function render(d) {
    const inc = d.incident;
    $("detail-pane").hidden = false;
    $("detail-title").textContent = inc.incident_id + " — " + inc.title;
    const status = inc.run_state === "waiting" ? "awaiting approval" : inc.status;
    $("detail-status").textContent = "Status: " + status + " · alerts " + inc.alert_status + " (" + inc.alerts_firing + "/" + inc.alerts_total +
      " firing) · service " + (inc.service || "?") + (d.escalation ? " · escalation: " + d.escalation : "");
    fill($("hypotheses"), d.hypotheses, (h) => el("li", h.service + " — " + h.fault_type + " (confidence " + h.confidence.toFixed(2) + ")"));
    fill($("evidence"), d.evidence, (e) => el("li", "[" + e.source + "] " + e.summary));
    const done = new Set(d.results.map((r) => r.step_index));
    fill($("plan"), d.plan, (s) => el("li", s.title + " — " + s.action + (s.destructive ? " (destructive)" : "") + (done.has(s.index) ? " ✓" : "")));
    fill($("timeline"), d.timeline, (t) => el("li", t.ts.slice(11, 19) + " " + t.kind + " by " + t.actor));
    drawDeps(d.dependency_mermaid);
    const p = d.pending;
    $("approval").hidden = !p;
    if (p) {
      const what = p.kind === "rollback" ? "Rollback of step " : "Step ";
      $("approval-text").textContent = what + p.step_index + ": " + p.title + " — " + p.action + " " + JSON.stringify(p.params) +
        (p.rollback ? " · if it fails: " + p.rollback.action + " " + JSON.stringify(p.rollback.params) : "") +
        (p.blast_radius && p.blast_radius.length ? " · blast radius: " + p.blast_radius.join(", ") : "") +
        " · gate " + p.gate_id;
      // The decision is bound to exactly the gate shown here; if the incident moved on, the server answers 409.
      const shown = $("approve").dataset;
      if (shown.gate !== p.gate_id) {
        shown.step = String(p.step_index);
        shown.gate = p.gate_id;
        shown.hash = p.params_hash;
        shown.action = p.action;
        $("approve").disabled = false;
        $("reject").disabled = false;
      }
    }
  }

  async function loadDetail() {
    if (!state.selected) return;
    try { render(await api("/incidents/" + encodeURIComponent(state.selected))); }
    catch (err) { $("detail-status").textContent = String(err.message); }
  }

  async function follow(id) {
    if (state.stream) state.stream.abort();
    const ctl = new AbortController();
    state.stream = ctl;
    try {
      const res = await fetch("/incidents/" + encodeURIComponent(id) + "/events", { headers: { Authorization: "Bearer " + state.token }, signal: ctl.signal });
      const reader = res.body.getReader();
      const decoder = new TextDecoder();
      let buffer = "";
      for (;;) {
        const { value, done } = await reader.read();
        if (done) break;
        buffer += decoder.decode(value, { stream: true });
        if (buffer.includes("\n\n")) { buffer = buffer.slice(buffer.lastIndexOf("\n\n") + 2); loadDetail(); loadList(); }
      }
    } catch (err) { /* aborted or network: polling still refreshes */ }
  }

  function select(id) {
    if (id !== state.selected) $("approval-result").textContent = "";
    state.selected = id;
    loadDetail();
    follow(id);
    loadList();
  }

  async function decide(decision) {
    const shown = $("approve").dataset;
    $("approve").disabled = true;  // one decision per gate: no double submit
    $("reject").disabled = true;
    $("approval-result").textContent = "sending…";
    try {
      const r = await api("/incidents/" + encodeURIComponent(state.selected) + "/approvals/" + encodeURIComponent(shown.step), {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ decision: decision, gate_id: shown.gate, params_hash: shown.hash, action: shown.action,
                               comment: $("approval-comment").value }),
      });
      $("approval-result").textContent = r.decision + "d by " + r.approver;
      $("approval").hidden = true;
    } catch (err) {
      $("approval-result").textContent = String(err.message);
      $("approve").disabled = false;
      $("reject").disabled = false;
    }
  }

  $("login").addEventListener("submit", (ev) => {
    ev.preventDefault();
    state.token = $("token").value.trim();
    sessionStorage.setItem("lumos-token", state.token);
    loadList();
  });
  $("refresh").addEventListener("click", loadList);
  $("approve").addEventListener("click", () => decide("approve"));
  $("reject").addEventListener("click", () => decide("reject"));
  setInterval(() => { loadList(); loadDetail(); }, 3000);
  loadList();
})();
