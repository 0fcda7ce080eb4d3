// buttress dashboard shell: token sign-in, one page per domain, status page.
// No build step and no dependencies: served as-is from the package.
"use strict";

const TOKEN_KEY = "buttress.token";
const $ = (sel) => document.querySelector(sel);

// Each empty state: [title, what will show, the doc file and section, the YAML that fills it].
const EMPTY = {
  resilience: ["Resilience", "No policies yet. Circuit breakers, retries, timeouts, rate limiters and bulkheads declared under resilience: in buttress.yaml appear here, with their state.",
    ["docs/resilience.md", "Policies from buttress.yaml"],
    "resilience:\n  policies:\n    database:\n      retry: {attempts: 3}\n      circuit_breaker: {failure_rate: 50, minimum_calls: 5, wait: 30s}\n      timeout: {seconds: 2s}\n"],
  health: ["Health", "No health checks yet. Dependency checks, the health score and the degradation level appear here.",
    ["docs/health.md", "Configure"],
    "health:\n  checks:\n    - {name: data-disk, type: disk, path: ., min_free_percent: 10}\n"],
  backups: ["Backups", "No backup targets yet. Targets declared under backup.targets and their runs appear here.",
    ["docs/backup.md", "Set up"],
    "backup:\n  recipients: [age.pub]      # the public key `buttress backup keygen age.key` prints\n  identity_files: [age.key]\n  destinations:\n    - {name: local, path: backups}\n  targets:\n    - {name: site, source: directory, path: site, schedule: '0 3 * * *'}\n"],
  alerts: ["Alerts", "No SLOs or alert rules: alerting is not built yet (the alerting: section is reserved; see the README's \"What works today\").",
    ["README.md", "What works today"], null],
  incidents: ["Incidents", "No incidents yet. An incident opens when Alertmanager's webhook (POST /api/v1/alerts/alertmanager) delivers a firing alert, or when an operator declares one below.",
    ["docs/incidents.md", "Incidents"], null],
  drills: ["Drills", "No drills: DR drills, chaos experiments and load tests are not built yet (the drills: section is reserved; see the README's \"What works today\").",
    ["README.md", "What works today"], null],
};

// the empty state of a domain page: what will show, where the docs say how, the YAML for it
function empty(domain) {
  const [, what, [file, section], yaml] = EMPTY[domain];
  const box = document.createElement("div");
  box.className = "empty";
  box.append(text("p", what));
  const doc = text("p", "Docs: ", "doc");
  doc.append(text("code", file), ` § ${section}`);
  box.append(doc);
  if (yaml) {
    box.append(text("p", "Add this to buttress.yaml and restart buttress serve:", "muted"));
    box.append(text("pre", yaml, "snippet"));
  }
  return box;
}

function token() { return sessionStorage.getItem(TOKEN_KEY); }

async function api(path, tok = token()) {
  const res = await fetch(`/api/v1${path}`, { headers: { Authorization: `Bearer ${tok}` } });
  let body = null;
  try { body = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) {
    const err = new Error((body && body.message) || `HTTP ${res.status}`);
    err.status = res.status;
    throw err;
  }
  return body;
}

function text(tag, content, cls) {
  const el = document.createElement(tag);
  el.textContent = content;
  if (cls) el.className = cls;
  return el;
}

function duration(seconds) {
  const s = Math.floor(seconds);
  const d = Math.floor(s / 86400), h = Math.floor((s % 86400) / 3600), m = Math.floor((s % 3600) / 60);
  return (d ? `${d}d ` : "") + (d || h ? `${h}h ` : "") + `${m}m ${s % 60}s`;
}

async function showStatus(main) {
  main.append(text("h1", "Status"));
  const st = await api("/status");
  const dl = document.createElement("dl");
  dl.className = "facts";
  dl.id = "status-facts";
  for (const [k, v, id] of [
    ["Version", st.version, "status-version"],
    ["Uptime", duration(st.uptime_seconds), "status-uptime"],
    ["Started", new Date(st.started_at).toLocaleString(), "status-started"],
    ["Catalog backend", st.catalog_backend, "status-backend"],
    ["Catalog", st.catalog_location, "status-catalog"],
    ["Schema revision", st.catalog_revision || "none", "status-revision"],
  ]) {
    dl.append(text("dt", k));
    const dd = text("dd", v);
    dd.id = id;
    dl.append(dd);
  }
  main.append(dl);
}

async function showAudit(main) {
  main.append(text("h1", "Audit log"));
  const rows = await api("/audit?limit=100");
  if (!rows.length) { main.append(text("p", "No audit records yet.", "empty")); return; }
  const table = document.createElement("table");
  const head = document.createElement("tr");
  for (const h of ["When", "Actor", "Action", "Target", "Client", "Outcome"]) head.append(text("th", h));
  table.append(head);
  for (const r of rows) {
    const tr = document.createElement("tr");
    for (const v of [new Date(r.at).toLocaleString(), r.actor, r.action, r.target, r.client, r.outcome]) tr.append(text("td", v));
    table.append(tr);
  }
  main.append(scrolling(table));
}

let ROLE = "viewer";
let NOTE = { text: "", cls: "" }; // the last action's outcome, kept across re-renders; cleared at sign-out
const canOperate = () => ROLE === "operator" || ROLE === "admin";

function flash(textContent, cls) { NOTE = { text: textContent, cls }; }

function noteLine(id) {
  const note = text("p", NOTE.text, `note ${NOTE.cls}`);
  note.id = id;
  return note;
}

// a table inside a box that scrolls sideways on a narrow screen
function scrolling(table) {
  const box = document.createElement("div");
  box.className = "scroll";
  box.append(table);
  return box;
}

function row(cells, tag = "td") {
  const tr = document.createElement("tr");
  for (const c of cells) tr.append(c instanceof Node ? c : text(tag, c));
  return tr;
}

function query() { return new URLSearchParams(location.hash.split("?")[1] || ""); }

function bytes(n) {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let i = 0, v = n;
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++; }
  return i ? `${v.toFixed(1)} ${units[i]}` : `${v} B`;
}

function ago(iso) {
  if (!iso) return "never";
  const s = (Date.now() - new Date(iso).getTime()) / 1000;
  return s < 0 ? `in ${duration(-s)}` : `${duration(s)} ago`;
}

function badge(status, label) {
  const cls = status === "ok" || status === "succeeded" ? "ok" : status ? "bad" : "muted";
  return text("span", `${label}${status || "not checked"}`, `badge ${cls}`);
}

// stored size of the last good backups over time: a dot per backup at (time, size), the
// y axis from 0 to the largest size, the first and last dates under the x axis
function sizeChart(sizes) {
  const ns = "http://www.w3.org/2000/svg";
  const W = 220, H = 80, L = 46, R = 6, T = 6, B = 16;
  const el = (tag, attrs, content) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (content !== undefined) e.textContent = content;
    return e;
  };
  const svg = el("svg", { class: "size-chart", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img",
    "aria-label": `stored size of the last ${sizes.length} good backups over time` });
  svg.append(el("line", { class: "axis", x1: L, y1: T, x2: L, y2: H - B }), el("line", { class: "axis", x1: L, y1: H - B, x2: W - R, y2: H - B }));
  if (!sizes.length) { svg.append(el("text", { x: L + 6, y: H / 2, class: "label" }, "no good backup yet")); return svg; }
  const times = sizes.map((x) => new Date(x.at).getTime());
  const t0 = Math.min(...times), t1 = Math.max(...times);
  const max = Math.max(...sizes.map((x) => x.stored)) || 1;
  const px = (t) => t1 > t0 ? L + ((t - t0) / (t1 - t0)) * (W - L - R - 4) + 2 : (L + W - R) / 2;
  const py = (v) => H - B - (v / max) * (H - B - T);
  svg.append(el("text", { x: L - 3, y: T + 7, class: "label end" }, bytes(max)), el("text", { x: L - 3, y: H - B, class: "label end" }, "0"));
  const fmt = (t) => new Date(t).toLocaleDateString(undefined, { month: "short", day: "numeric" }) + " " + new Date(t).toLocaleTimeString(undefined, { hour: "2-digit", minute: "2-digit" });
  svg.append(el("text", { x: L, y: H - 3, class: "label" }, fmt(t0)));
  if (t1 > t0) svg.append(el("text", { x: W - R, y: H - 3, class: "label end" }, fmt(t1)));
  if (sizes.length > 1) svg.append(el("polyline", { points: sizes.map((x, i) => `${px(times[i])},${py(x.stored)}`).join(" ") }));
  sizes.forEach((x, i) => {
    const dot = el("circle", { cx: px(times[i]), cy: py(x.stored), r: 2.5, "data-id": x.id, "data-stored": x.stored });
    dot.append(el("title", {}, `${new Date(x.at).toLocaleString()}: ${bytes(x.stored)} stored (${bytes(x.raw)} raw)`));
    svg.append(dot);
  });
  return svg;
}

// a physical target's recoverable window: a bar from the oldest to the newest recoverable
// point, the recoverable spans in green and what lies between them (WAL gaps) in red, then
// the facts (the gaps named, the newest segment, the archive lag)
function walWindow(name, w) {
  const sec = document.createElement("section");
  sec.className = "wal-window";
  sec.dataset.target = name;
  sec.dataset.state = w.state;
  sec.append(text("h3", name));
  const win = w.window;
  const fmt = (iso) => new Date(iso).toLocaleString();
  const range = text("p", "", "range");
  if (win.oldest && win.newest) {
    range.append(text("strong", "Recoverable: "), text("span", fmt(win.oldest), "oldest"), " → ",
      text("span", fmt(win.newest), "newest"), ` (${duration(win.seconds)})`);
  } else {
    range.textContent = w.segments ? "Nothing recoverable yet: no good base backup whose WAL is whole." : "No WAL archived yet.";
    range.classList.add("bad");
  }
  sec.append(range);
  if (win.spans.length) {
    const ns = "http://www.w3.org/2000/svg";
    const W = 400, H = 14;
    const t0 = new Date(win.oldest).getTime(), t1 = new Date(win.newest).getTime();
    const px = (iso) => t1 > t0 ? ((new Date(iso).getTime() - t0) / (t1 - t0)) * W : 0;
    const svg = document.createElementNS(ns, "svg");
    for (const [k, v] of Object.entries({ class: "wal-bar", viewBox: `0 0 ${W} ${H}`, width: W, height: H, role: "img", "aria-label": `recoverable window of ${name}` })) svg.setAttribute(k, v);
    const rect = (x1, x2, cls, title) => {
      const r = document.createElementNS(ns, "rect");
      for (const [k, v] of Object.entries({ x: x1, y: 0, width: Math.max(x2 - x1, 2), height: H, class: cls })) r.setAttribute(k, v);
      const tt = document.createElementNS(ns, "title");
      tt.textContent = title;
      r.append(tt);
      svg.append(r);
    };
    win.spans.forEach((s, i) => {
      rect(px(s.start), px(s.end), "span", `recoverable ${fmt(s.start)} → ${fmt(s.end)} (backups ${s.backups.join(", ")})`);
      const next = win.spans[i + 1];
      if (next) rect(px(s.end), px(next.start), "hole", `not recoverable ${fmt(s.end)} → ${fmt(next.start)} (WAL missing)`);
    });
    sec.append(svg);
  }
  if (w.gaps.length) {
    const ul = document.createElement("ul");
    ul.className = "wal-gaps bad";
    for (const g of w.gaps) ul.append(text("li", g.count === 1 ? `WAL gap: ${g.first} missing` : `WAL gap: ${g.first} … ${g.last} missing (${g.count} segments)`));
    sec.append(ul);
  }
  const facts = text("p", "", "muted");
  facts.append(`${w.segments} segments (${w.mode})`);
  if (w.newest) facts.append(`, newest ${w.newest.name} handed over ${ago(w.newest.ready_at)}`);
  if (w.pending !== null && w.pending !== undefined) facts.append(`, ${w.pending} spooled`);
  sec.append(facts);
  for (const p of w.problems) sec.append(text("p", p, "bad small"));
  return sec;
}

async function showBackups(main) {
  main.append(text("h1", "Backups"));
  const targets = await api("/backups/targets");
  if (!targets.length) { main.append(empty("backups")); return; }
  main.append(noteLine("backups-note"));
  const runId = query().get("run");
  if (runId) await showRun(main, runId);
  const table = document.createElement("table");
  table.id = "backup-targets";
  table.append(row(["Target", "Schedule", "Last good backup", "Size", "Stored size over time", "Checks", ""], "th"));
  for (const t of targets) {
    const tr = document.createElement("tr");
    tr.dataset.target = t.name;
    const name = text("td", "");
    name.append(text("strong", t.name), text("div", `${t.source} → ${t.destinations.join(", ")}`, "muted"));
    const sched = text("td", t.schedule || "manual");
    if (t.next_backup_at) sched.append(text("div", `next ${ago(t.next_backup_at)}`, "muted"));
    const last = t.last_success;
    const lastCell = text("td", last ? ago(last.finished_at) : "never", last ? "" : "bad");
    lastCell.classList.add("last-success");
    if (t.failures_since_success) lastCell.append(text("div", `${t.failures_since_success} failed since`, "bad"));
    if (t.last_run && t.last_run.status === "failed") lastCell.append(text("div", t.last_run.error, "bad small"));
    const size = text("td", last ? `${bytes(last.stored_size)} (x${last.compression_ratio})` : "-");
    const trend = document.createElement("td");
    trend.className = "trend";
    trend.append(sizeChart(t.sizes));
    const checks = document.createElement("td");
    checks.className = "checks";
    if (last) checks.append(badge(last.verify_status, "checksums: "), badge(last.restore_test_status, "restore test: "));
    const act = document.createElement("td");
    if (canOperate()) {
      const b = text("button", t.running ? "Running…" : "Run now", "run");
      b.disabled = t.running;
      b.addEventListener("click", () => runNow(t.name, b));
      act.append(b);
    }
    tr.append(name, sched, lastCell, size, trend, checks, act);
    table.append(tr);
  }
  main.append(scrolling(table));
  const walTargets = targets.filter((t) => t.archives_wal);
  if (walTargets.length) {
    main.append(text("h2", "Point-in-time recovery"));
    const box = document.createElement("div");
    box.id = "wal-windows";
    for (const t of walTargets) box.append(walWindow(t.name, await api(`/backups/targets/${encodeURIComponent(t.name)}/wal`)));
    main.append(box);
  }
  main.append(text("h2", "Recent runs"));
  const runs = await api("/backups/runs?limit=20");
  const rt = document.createElement("table");
  rt.id = "backup-runs";
  rt.append(row(["Id", "Target", "Status", "Started", "Stored", "Checksums", "Restore test"], "th"));
  for (const r of runs) {
    const link = text("a", r.id);
    link.href = `#/backups?run=${encodeURIComponent(r.id)}`;
    const idCell = document.createElement("td");
    idCell.append(link);
    const tr = row([idCell, r.target, r.status, new Date(r.started_at).toLocaleString(), bytes(r.stored_size), r.verify_status || "-", r.restore_test_status || "-"]);
    tr.dataset.id = r.id;
    tr.children[2].className = r.status === "succeeded" ? "ok" : r.status === "running" ? "" : "bad";
    if (r.error) tr.title = r.error;
    rt.append(tr);
  }
  main.append(scrolling(rt));
  if (targets.some((t) => t.running)) later("backups", 1000);
}

// re-render `page` after `ms` if it is still the page shown
function later(page, ms) {
  setTimeout(() => { if ($("#page").dataset.page === page && token()) route(); }, ms);
}

// one run: its error, its recorded metadata, its copy in each destination, its last check;
// operators verify it or restore-test it from here
async function showRun(main, id) {
  const box = document.createElement("section");
  box.className = "run-detail";
  box.id = "run-detail";
  main.append(box);
  let r;
  try { r = await api(`/backups/runs/${encodeURIComponent(id)}`); } catch (err) {
    box.append(text("p", err.message, "error"));
    return;
  }
  const head = text("h2", `Run ${r.id}`);
  const close = text("a", "close", "close");
  close.href = "#/backups";
  head.append(" ", close);
  box.append(head);
  const facts = document.createElement("dl");
  facts.className = "facts";
  const fact = (k, v, fid) => { facts.append(text("dt", k)); const dd = text("dd", v); if (fid) dd.id = fid; facts.append(dd); };
  fact("Target", r.target);
  fact("Status", r.status, "run-status");
  fact("Started", new Date(r.started_at).toLocaleString());
  fact("Finished", r.finished_at ? new Date(r.finished_at).toLocaleString() : "-");
  fact("Trigger", (r.detail && r.detail.trigger) || "-");
  fact("Size", `${bytes(r.raw_size)} raw, ${bytes(r.stored_size)} stored`);
  box.append(facts);
  if (r.error) { const e = text("p", r.error, "bad"); e.id = "run-error"; box.append(e); }
  if (r.metadata) box.append(metadataView(r.metadata));
  if (r.copies && r.copies.length) {
    box.append(text("h3", "Copies"));
    const ct = document.createElement("table");
    ct.id = "run-copies";
    ct.append(row(["Destination", "Holds", "Objects", "Stored", "Last check"], "th"));
    for (const c of r.copies) {
      const check = c.check ? (c.check.ok ? "ok" : `${c.check.problems.length} problem(s): ${c.check.problems.join("; ")}`) : "not checked";
      const tr = row([c.destination, c.stored ? "every object and the manifest" : `nothing: ${c.error}`, `${c.objects}`, bytes(c.stored_size), check]);
      tr.dataset.destination = c.destination;
      tr.children[1].className = c.stored ? "ok" : "bad";
      ct.append(tr);
    }
    box.append(scrolling(ct));
  }
  const detail = r.detail || {};
  const checking = detail.checking;
  const last = detail.last_check;
  const status = text("p", "", "check");
  status.id = "run-check";
  if (checking) status.textContent = `${checking.restore_test ? "Restore test" : "Verify"} running since ${ago(checking.started_at)}…`;
  else if (last) {
    const rt = last.restore_test;
    status.textContent = `Last check ${ago(last.finished_at)}: checksums ${last.problems.length ? "failed" : "ok"}`
      + (rt ? `; restore test ${rt.ok ? "ok" : "failed"} (${rt.compared.map((c) => `${c.what}: ${c.differences} difference(s)`).join(", ")})` : "")
      + (last.problems.length ? `; problems: ${last.problems.join("; ")}` : "");
    status.classList.add(last.ok ? "ok" : "bad");
  }
  box.append(status);
  if (canOperate() && r.status === "succeeded") {
    const verify = text("button", "Verify checksums", "secondary");
    verify.id = "verify-button";
    const restore = text("button", "Restore test", "secondary");
    restore.id = "restore-test-button";
    verify.disabled = restore.disabled = Boolean(checking);
    verify.addEventListener("click", () => check(r.id, false));
    restore.addEventListener("click", () => check(r.id, true));
    const acts = document.createElement("div");
    acts.className = "actions";
    acts.append(verify, restore);
    box.append(acts);
  }
  if (checking) later("backups", 1000);
}

function metadataView(meta) {
  const box = document.createElement("div");
  box.id = "run-metadata";
  box.append(text("h3", "Recorded at backup time"));
  const dl = document.createElement("dl");
  dl.className = "facts";
  const tables = [];
  for (const [k, v] of Object.entries(meta)) {
    if (v && typeof v === "object" && !Array.isArray(v)) {
      tables.push([k, v]);
      continue;
    }
    dl.append(text("dt", k.replaceAll("_", " ")));
    const dd = text("dd", Array.isArray(v) ? v.join(", ") : `${v}`, k === "schema_fingerprint" ? "mono" : "");
    dd.dataset.key = k;
    dl.append(dd);
  }
  box.append(dl);
  for (const [k, v] of tables) {
    const entries = Object.entries(v);
    const t = document.createElement("table");
    t.dataset.key = k;
    t.className = "meta";
    t.append(row([k.replaceAll("_", " "), `${entries.length} entr${entries.length === 1 ? "y" : "ies"}`], "th"));
    if (!entries.length) t.append(row(["(none)", ""]));
    for (const [name, value] of entries.slice(0, 200)) t.append(row([name, typeof value === "object" ? JSON.stringify(value) : `${value}`]));
    box.append(scrolling(t));
  }
  return box;
}

async function check(id, restoreTest) {
  const res = await send("POST", `/backups/runs/${encodeURIComponent(id)}/verify`, { restore_test: restoreTest });
  const body = await res.json();
  flash(res.ok ? `${restoreTest ? "Restore test" : "Verify"} of ${id} started.` : body.message, res.ok ? "ok" : "bad");
  route();
}

// a setting value as short text: numbers and strings as they are, objects by their kind
function setting(v) {
  if (v === null) return "none";
  if (Array.isArray(v)) return `[${v.map(setting).join(", ")}]`;
  if (typeof v === "object") {
    const inner = Object.entries(v).filter(([k]) => k !== "kind").map(([k, x]) => `${k}=${setting(x)}`).join(" ");
    return v.kind ? `${v.kind}(${inner})` : `{${inner}}`;
  }
  return `${v}`;
}

const BREAKER_CLS = { closed: "ok", half_open: "warn", open: "bad", forced_open: "bad", forced_closed: "warn", disabled: "muted" };

async function showResilience(main) {
  main.append(text("h1", "Resilience"));
  const policies = await api("/resilience/policies");
  if (!policies.length) { main.append(empty("resilience")); return; }
  main.append(noteLine("resilience-note"));
  for (const p of policies) {
    const box = document.createElement("section");
    box.className = "policy";
    box.dataset.policy = p.name;
    box.append(text("h2", p.name));
    if (p.problem) box.append(text("p", p.problem, "bad"));
    const table = document.createElement("table");
    table.append(row(["Policy", "Settings", "State"], "th"));
    for (const part of p.policies) {
      const kind = text("td", "");
      kind.append(text("strong", part.kind));
      if (part.store_mode) kind.append(text("div", `state: ${part.store_mode}`, "muted"));
      const settings = text("td", Object.entries(part.settings).map(([k, v]) => `${k}=${setting(v)}`).join(", "), "small settings");
      const state = document.createElement("td");
      state.className = "state";
      if (part.breaker) {
        const b = part.breaker;
        const s = text("span", b.state.replace("_", " "), `badge ${BREAKER_CLS[b.state] || ""} breaker-state`);
        state.append(s, text("div", `${b.calls} calls, ${b.failures} failed (${b.failure_rate}%), ${b.slow_calls} slow in the window`, "muted"));
        if (canOperate()) {
          const acts = document.createElement("div");
          acts.className = "actions";
          for (const [action, label] of [["force_open", "Force open"], ["force_closed", "Force closed"], ["reset", "Reset"]]) {
            const btn = text("button", label, "secondary small-button");
            btn.dataset.action = action;
            btn.addEventListener("click", () => forceBreaker(p.name, action, label));
            acts.append(btn);
          }
          state.append(acts);
        }
      } else if (part.bulkhead) {
        const b = part.bulkhead;
        state.append(text("span", `${b.active} of ${b.max_concurrent} running, ${b.queued} of ${b.max_queue} queued`, "occupancy"));
        if (b.shared_active !== b.active) state.append(text("div", `${b.shared_active} running in every process`, "muted"));
      } else if (part.limiter) {
        const l = part.limiter;
        state.append(text("span", `${l.tracked_keys} key${l.tracked_keys === 1 ? "" : "s"} tracked${l.shared ? " here (counts shared in the store)" : ""}`, "limiter-keys"));
        for (const k of l.keys.slice(0, 10)) state.append(text("div", `${k.key}: ${k.remaining} left`, "muted key"));
      } else state.append(text("span", "-", "muted"));
      const tr = row([kind, settings, state]);
      tr.dataset.kind = part.kind;
      table.append(tr);
    }
    box.append(scrolling(table));
    main.append(box);
  }
  later("resilience", 5000);
}

async function forceBreaker(name, action, label) {
  const res = await send("POST", `/resilience/policies/${encodeURIComponent(name)}/breaker`, { action });
  const body = await res.json();
  flash(res.ok ? `${label}: the breaker of ${name} is now ${body.policies.find((p) => p.breaker).breaker.state.replace("_", " ")}.` : body.message, res.ok ? "ok" : "bad");
  route();
}

const LIGHT = ["ok", "warn", "alert", "bad", "bad"];

async function showLevel(main) {
  const lv = await api("/level");
  const box = document.createElement("section");
  box.className = "level";
  box.id = "level";
  const light = text("div", lv.level, `light ${LIGHT[Math.min(lv.index, LIGHT.length - 1)]}`);
  light.id = "level-name";
  box.append(light);
  const facts = document.createElement("div");
  facts.append(text("div", lv.override
    ? `override by ${lv.override.actor}: ${lv.override.reason} (ends in ${duration(lv.override.expires_in)}); automatic level ${lv.automatic}`
    : (lv.reasons.length ? `because ${lv.reasons.join(", ")}` : "no trigger holds"), "muted"));
  facts.lastChild.id = "level-why";
  for (const p of lv.recovery) facts.append(text("div", `${p.trigger}: ${p.seconds === null ? `recovery unknown (${p.why})` : `expected to clear in ${duration(p.seconds)}`}`, "muted"));
  const feats = document.createElement("div");
  feats.id = "level-features";
  for (const [f, on] of Object.entries(lv.features)) feats.append(text("span", `${f}: ${on ? "on" : "off"}`, `badge ${on ? "ok" : "bad"}`));
  facts.append(feats);
  const limits = Object.entries(lv.limits).map(([k, v]) => `${k}=${JSON.stringify(v)}`).join(", ");
  if (limits) facts.append(text("div", `limits: ${limits}`, "muted"));
  box.append(facts);
  if (canOperate()) {
    const form = document.createElement("form");
    form.id = "override-form";
    const sel = document.createElement("select");
    sel.name = "level";
    for (const n of lv.levels) { const o = text("option", n); o.value = n; sel.append(o); }
    const dur = document.createElement("input"); dur.name = "for"; dur.value = "30m"; dur.size = 5;
    const why = document.createElement("input"); why.name = "reason"; why.placeholder = "reason (required)";
    const go = text("button", "Override"); go.type = "submit";
    form.append(sel, dur, why, go);
    if (lv.override) {
      const clear = text("button", "Clear override", "secondary"); clear.type = "button"; clear.id = "override-clear";
      clear.addEventListener("click", async () => { await send("DELETE", "/level/override"); route(); });
      form.append(clear);
    }
    const msg = text("p", "", "bad"); msg.id = "override-error";
    form.addEventListener("submit", async (ev) => {
      ev.preventDefault();
      const res = await send("POST", "/level/override", { level: sel.value, for: dur.value, reason: why.value });
      if (!res.ok) { msg.textContent = (await res.json()).message; return; }
      route();
    });
    box.append(form, msg);
  }
  main.append(box);
}

async function send(method, path, body) {
  return fetch(`/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${token()}`, "Content-Type": "application/json" },
    body: body ? JSON.stringify(body) : undefined,
  });
}

async function showHealth(main) {
  main.append(text("h1", "Health"));
  const h = await api("/health");
  if (h.degradation) await showLevel(main); // else /level answers 404: not asked
  if (!h.checks.length) {
    if (!h.degradation) main.append(empty("health"));
    return;
  }
  const head = document.createElement("div");
  head.className = "health-head";
  const sc = text("div", h.score === null ? "–" : `${h.score}`, "score");
  sc.id = "health-score";
  const verdict = text("div", h.ready ? "ready" : "not ready: a critical check is down", h.ready ? "ok" : "bad");
  verdict.id = "health-ready";
  head.append(sc, text("div", "health score / 100", "muted"), verdict);
  main.append(head);
  const table = document.createElement("table");
  table.id = "health-checks";
  const hr = document.createElement("tr");
  for (const x of ["Check", "Type", "Status", "Latency", "Detail", "Recent"]) hr.append(text("th", x));
  table.append(hr);
  for (const c of h.checks) {
    const tr = document.createElement("tr");
    tr.dataset.check = c.name;
    const name = text("td", "");
    name.append(text("strong", c.name));
    if (c.critical) name.append(text("span", "critical", "badge muted"));
    const status = text("td", c.status, c.status === "up" ? "ok" : c.status === "down" ? "bad" : "");
    status.classList.add("status");
    const recent = document.createElement("td");
    recent.className = "recent";
    for (const r of c.history.slice(-20)) {
      const dot = text("span", "", `dot ${r.status}`);
      dot.title = `${new Date(r.at).toLocaleTimeString()}: ${r.status} ${r.detail}`;
      recent.append(dot);
    }
    tr.append(name, text("td", c.kind), status, text("td", c.latency_ms === null ? "-" : `${c.latency_ms} ms`), text("td", c.detail, "small"), recent);
    table.append(tr);
  }
  main.append(scrolling(table));
  later("health", 5000);
}

async function runNow(target, button) {
  button.disabled = true;
  try {
    const res = await fetch(`/api/v1/backups/targets/${encodeURIComponent(target)}/run`, {
      method: "POST", headers: { Authorization: `Bearer ${token()}` },
    });
    const body = await res.json();
    flash(res.ok ? `Backup ${body.id} of ${target} started.` : body.message, res.ok ? "ok" : "bad");
  } finally {
    later("backups", 300);
  }
}

let RENDER = 0; // the latest render: an older one still awaiting its data is dropped

async function route() {
  const render = ++RENDER;
  const page = (location.hash.replace(/^#\//, "") || "status").split("?")[0];
  const main = $("#page");
  main.replaceChildren();
  main.dataset.page = page;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  const view = document.createElement("div"); // built apart, shown when complete
  try {
    if (page === "status") await showStatus(view);
    else if (page === "audit") await showAudit(view);
    else if (page === "backups") await showBackups(view);
    else if (page === "health") await showHealth(view);
    else if (page === "resilience") await showResilience(view);
    else if (page === "incidents") await showIncidents(view); // incidents.js
    else if (page === "runbooks") await showRunbooks(view); // runbooks.js
    else if (EMPTY[page]) {
      view.append(text("h1", EMPTY[page][0]));
      view.append(empty(page));
    } else view.append(text("h1", "Not found"));
  } catch (err) {
    if (render !== RENDER) return;
    if (err.status === 401) return signOut("Your token is no longer valid; sign in again.");
    view.append(text("p", err.message, "error"));
  }
  if (render === RENDER && token()) main.replaceChildren(...view.childNodes);
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
  NOTE = { text: "", cls: "" }; // a flash message belongs to the session that caused it
  ROLE = "viewer";
  RENDER++; // a page still loading for the old session is not shown
  $("#page").replaceChildren();
  $("nav").classList.remove("open");
  $("#shell").hidden = true;
  $("#signin").hidden = false;
  const e = $("#signin-error");
  e.hidden = !message;
  e.textContent = message || "";
}

async function enter() {
  const me = await api("/whoami");
  $("#who").textContent = `${me.name} (${me.role})`;
  ROLE = me.role;
  for (const a of document.querySelectorAll("nav a[data-role=admin]")) a.hidden = me.role !== "admin";
  $("#signin").hidden = true;
  $("#shell").hidden = false;
  await route();
}

async function signIn(event) {
  event.preventDefault();
  const tok = $("#token").value.trim();
  try {
    await api("/whoami", tok);
  } catch (err) {
    signOut(err.status === 401 ? "That token was not accepted (unknown, revoked or mistyped)." : err.message);
    return;
  }
  sessionStorage.setItem(TOKEN_KEY, tok);
  $("#token").value = "";
  await enter();
}

window.addEventListener("hashchange", () => {
  $("nav").classList.remove("open"); // a page was chosen: the menu closes on a narrow screen
  $("#menu-button").setAttribute("aria-expanded", "false");
  if (token()) route();
});
document.addEventListener("DOMContentLoaded", async () => {
  $("#signin-form").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", () => signOut(""));
  $("#menu-button").addEventListener("click", () => {
    const open = $("nav").classList.toggle("open");
    $("#menu-button").setAttribute("aria-expanded", `${open}`);
  });
  if (!token()) return signOut("");
  try { await enter(); } catch (_) { signOut("Your token is no longer valid; sign in again."); }
});
