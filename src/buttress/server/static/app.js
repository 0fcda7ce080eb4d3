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

async function route() {
  const page = (location.hash.replace(/^#\//, "") || "status").split("?")[0];
  const main = $("#page");
  main.replaceChildren();
  main.dataset.page = page;
  for (const a of document.querySelectorAll("nav a")) a.classList.toggle("active", a.dataset.page === page);
  try {
    if (page === "status") await showStatus(main);
    else if (page === "audit") await showAudit(main);
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
