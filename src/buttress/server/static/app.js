// buttress dashboard shell: token sign-in, one page per domain, status page.
// No build step and no dependencies: served as-is from the package.
"use strict";

const TOKEN_KEY = "buttress.token";
const $ = (sel) => document.querySelector(sel);

const EMPTY = {
  resilience: ["Resilience", "No policies yet. Circuit breakers, retries, rate limiters and bulkheads declared under resilience: in buttress.yaml will appear here."],
  health: ["Health", "No health checks yet. Dependency checks, the health score and the degradation level will appear here."],
  backups: ["Backups", "No backup targets yet. Targets declared under backup.targets and their runs will appear here."],
  alerts: ["Alerts", "No SLOs or alert rules yet."],
  incidents: ["Incidents", "No incidents. Open incidents, their timelines and on-call will appear here."],
  drills: ["Drills", "No drills yet. DR drills, chaos experiments and load tests will appear here."],
};

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
  main.append(table);
}

let ROLE = "viewer";
let NOTE = { text: "", cls: "" }; // the last "run now" outcome, kept across re-renders
const canOperate = () => ROLE === "operator" || ROLE === "admin";

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

// stored size of the last good backups, oldest first, as an inline SVG polyline
function sparkline(sizes) {
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("width", "120"); svg.setAttribute("height", "28");
  svg.setAttribute("class", "spark");
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", `stored size of the last ${sizes.length} backups`);
  if (!sizes.length) return svg;
  const max = Math.max(...sizes.map((x) => x.stored)) || 1;
  const step = sizes.length > 1 ? 116 / (sizes.length - 1) : 0;
  const points = sizes.map((x, i) => `${2 + i * step},${26 - (x.stored / max) * 24}`).join(" ");
  const line = document.createElementNS(ns, "polyline");
  line.setAttribute("points", sizes.length > 1 ? points : `2,${26 - 24} 118,${26 - 24}`);
  svg.append(line);
  return svg;
}

async function showBackups(main) {
  main.append(text("h1", "Backups"));
  const targets = await api("/backups/targets");
  if (!targets.length) {
    main.append(text("p", EMPTY.backups[1], "empty"));
    return;
  }
  const note = text("p", NOTE.text, `note ${NOTE.cls}`);
  note.id = "backups-note";
  main.append(note);
  const table = document.createElement("table");
  table.id = "backup-targets";
  const head = document.createElement("tr");
  for (const h of ["Target", "Schedule", "Last good backup", "Size", "Trend", "Checks", ""]) head.append(text("th", h));
  table.append(head);
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
    trend.append(sparkline(t.sizes));
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
  main.append(table);
  main.append(text("h2", "Recent runs"));
  const runs = await api("/backups/runs?limit=20");
  const rt = document.createElement("table");
  rt.id = "backup-runs";
  const rh = document.createElement("tr");
  for (const h of ["Id", "Target", "Status", "Started", "Stored", "Checksums", "Restore test"]) rh.append(text("th", h));
  rt.append(rh);
  for (const r of runs) {
    const tr = document.createElement("tr");
    tr.dataset.id = r.id;
    for (const v of [r.id, r.target, r.status, new Date(r.started_at).toLocaleString(), bytes(r.stored_size), r.verify_status || "-", r.restore_test_status || "-"]) tr.append(text("td", v));
    tr.children[2].className = r.status === "succeeded" ? "ok" : r.status === "running" ? "" : "bad";
    if (r.error) tr.title = r.error;
    rt.append(tr);
  }
  main.append(rt);
  if (targets.some((t) => t.running) && location.hash.startsWith("#/backups")) setTimeout(() => { if ($("#page").dataset.page === "backups") route(); }, 1000);
}

const LIGHT = ["ok", "warn", "alert", "bad", "bad"];

async function showLevel(main) {
  let lv;
  try { lv = await api("/level"); } catch (err) { if (err.status === 404) return false; throw err; }
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
  return true;
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
  const hasLevels = await showLevel(main);
  const h = await api("/health");
  if (!h.checks.length) {
    if (!hasLevels) main.append(text("p", EMPTY.health[1], "empty"));
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
  main.append(table);
  setTimeout(() => { if ($("#page").dataset.page === "health") route(); }, 5000);
}

async function runNow(target, button) {
  button.disabled = true;
  try {
    const res = await fetch(`/api/v1/backups/targets/${encodeURIComponent(target)}/run`, {
      method: "POST", headers: { Authorization: `Bearer ${token()}` },
    });
    const body = await res.json();
    NOTE = res.ok
      ? { text: `Backup ${body.id} of ${target} started.`, cls: "ok" }
      : { text: body.message, cls: "bad" };
  } finally {
    setTimeout(route, 300);
  }
}

async function route() {
  const page = (location.hash.replace(/^#\//, "") || "status").split("?")[0];
  const main = $("#page");
  main.replaceChildren();
  main.dataset.page = page;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  try {
    if (page === "status") await showStatus(main);
    else if (page === "audit") await showAudit(main);
    else if (page === "backups") await showBackups(main);
    else if (page === "health") await showHealth(main);
    else if (EMPTY[page]) {
      main.append(text("h1", EMPTY[page][0]));
      main.append(text("p", EMPTY[page][1], "empty"));
    } else main.append(text("h1", "Not found"));
  } catch (err) {
    if (err.status === 401) return signOut("Your token is no longer valid; sign in again.");
    main.append(text("p", err.message, "error"));
  }
}

function signOut(message) {
  sessionStorage.removeItem(TOKEN_KEY);
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

window.addEventListener("hashchange", () => { if (token()) route(); });
document.addEventListener("DOMContentLoaded", async () => {
  $("#signin-form").addEventListener("submit", signIn);
  $("#signout").addEventListener("click", () => signOut(""));
  if (!token()) return signOut("");
  try { await enter(); } catch (_) { signOut("Your token is no longer valid; sign in again."); }
});
