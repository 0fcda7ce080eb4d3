// buttress dashboard: the Incidents page (#/incidents), loaded after app.js and using its
// helpers ($, text, api, send, row, scrolling, query, ago, flash, noteLine, canOperate, route).
// The list (#/incidents?status=&severity=&service=&before=) with who is on call and the declare
// form; one incident (#/incidents?ref=INC-...), refreshed while it is open; a notification's
// link (#/incidents?ref=INC-...&action=ack|resolve) asks to confirm that action.
"use strict";

const INC_ORDER = ["triggered", "acknowledged", "mitigated", "resolved", "closed"];
const INC_ACTIONS = [["ack", "acknowledged", "Acknowledge"], ["mitigate", "mitigated", "Mitigate"],
  ["resolve", "resolved", "Resolve"], ["close", "closed", "Close"]];
const INC_SEVERITIES = ["P1", "P2", "P3", "P4"];
const INC_PUBLIC = ["investigating", "identified", "monitoring", "resolved"];
const INC_ROLES = [["commander", "Commander"], ["tech_lead", "Tech lead"], ["communications", "Communications"]];
const INC_STATUS_CLS = { triggered: "bad", acknowledged: "warn", mitigated: "warn", resolved: "ok", closed: "muted" };
let INC_TIMER = null; // the detail's pending refresh: one at a time

// the actions the lifecycle allows from `status`: forward only, closing only when resolved
function incidentActions(status) {
  const at = INC_ORDER.indexOf(status);
  return INC_ACTIONS.filter(([action, target]) =>
    action === "close" ? status === "resolved" : INC_ORDER.indexOf(target) > at);
}

// a mutating request: {ok, status, body, message} (message: the API's sentence on an error)
async function incidentSend(method, path, body) {
  const res = await send(method, path, body);
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (res.status === 401) signOut("Your token is no longer valid; sign in again.");
  return { ok: res.ok, status: res.status, body: data, message: (data && data.message) || `HTTP ${res.status}` };
}

// an action's outcome, kept for the next render (not after a 401 signed the user out)
function incFlash(message, cls) { if (token()) flash(message, cls); }

const when = (iso) => (iso ? new Date(iso).toLocaleString() : "-");
const incPath = (ref) => `/incidents/${encodeURIComponent(ref)}`;
const incHash = (ref) => `#/incidents?ref=${encodeURIComponent(ref)}`;

function field(tag, name, attrs = {}) {
  const el = document.createElement(tag);
  el.name = name;
  if ("value" in attrs) el.defaultValue = attrs.value; // a prefilled field is not an edit
  for (const [k, v] of Object.entries(attrs)) el[k] = v;
  return el;
}

function choice(name, values, selected, anyLabel) {
  const sel = field("select", name);
  if (anyLabel) { const o = text("option", anyLabel); o.value = ""; sel.append(o); }
  for (const v of values) {
    const o = text("option", v);
    o.value = v;
    if (v === selected) { o.selected = true; o.defaultSelected = true; }
    sel.append(o);
  }
  return sel;
}

function labelled(label, input) {
  const l = text("label", label);
  l.append(input);
  return l;
}

// a form whose submit calls `go(form)`; `go` answers an error sentence or nothing
function incidentForm(id, title, fields, button, go) {
  const form = document.createElement("form");
  form.id = id;
  form.className = "inc-form";
  if (title) form.append(text("h3", title));
  form.append(...fields);
  const submit = text("button", button);
  submit.type = "submit";
  const error = text("p", "", "error");
  error.id = `${id}-error`;
  error.setAttribute("role", "alert");
  form.append(submit, error);
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    submit.disabled = true;
    try {
      const problem = await go(form);
      error.textContent = problem || "";
    } finally { submit.disabled = false; }
  });
  return form;
}

async function showIncidents(main) {
  main.append(text("h1", "Incidents"));
  main.append(noteLine("incidents-note"));
  const q = query();
  if (q.get("ref")) await showIncident(main, q.get("ref"), q.get("action"));
  else await incidentList(main, q);
}

async function incidentList(main, q) {
  const params = new URLSearchParams();
  for (const k of ["status", "severity", "service", "before", "limit"]) if (q.get(k)) params.set(k, q.get(k));
  if (!params.get("limit")) params.set("limit", "25");
  const [page, oncall] = await Promise.all([api(`/incidents?${params}`), api("/oncall")]);
  main.append(onCallBox(oncall));
  main.append(incidentFilters(q));
  const filtered = ["status", "severity", "service", "before"].some((k) => q.get(k));
  if (!page.items.length && !filtered) main.append(empty("incidents"));
  else if (!page.items.length) main.append(text("p", "No incident matches these filters.", "muted"));
  else {
    const table = document.createElement("table");
    table.id = "incident-list";
    table.append(row(["Incident", "Severity", "Status", "Title", "Services", "Triggered", "Source"], "th"));
    for (const i of page.items) {
      const link = text("a", i.ref);
      link.href = incHash(i.ref);
      const refCell = document.createElement("td");
      refCell.append(link);
      const tr = row([refCell, i.severity, i.status, i.title, i.services.join(", ") || "-", ago(i.triggered_at), i.source]);
      tr.dataset.ref = i.ref;
      tr.children[1].className = `sev sev-${i.severity}`;
      tr.children[2].className = `status ${INC_STATUS_CLS[i.status] || ""}`;
      table.append(tr);
    }
    main.append(scrolling(table));
  }
  const pager = document.createElement("p");
  pager.className = "pager";
  if (q.get("before")) {
    const newest = new URLSearchParams(params);
    newest.delete("before");
    const a = text("a", "Newest");
    a.href = `#/incidents?${newest}`;
    a.id = "incidents-newest";
    pager.append(a, " ");
  }
  if (page.next_before) {
    const older = new URLSearchParams(params);
    older.set("before", `${page.next_before}`);
    const a = text("a", "Older incidents");
    a.href = `#/incidents?${older}`;
    a.id = "incidents-older";
    pager.append(a);
  }
  main.append(pager);
  if (canOperate()) main.append(declareForm());
}

function onCallBox(oncall) {
  const box = document.createElement("section");
  box.className = "oncall";
  box.id = "oncall";
  box.append(text("h2", "Who is on call"));
  if (!oncall.schedules.length) {
    box.append(text("p", "No on-call schedules (incidents.oncall.schedules in buttress.yaml; docs/incidents.md § On-call schedules).", "muted"));
    return box;
  }
  const table = document.createElement("table");
  table.append(row(["Schedule", "On call", "Until"], "th"));
  for (const s of oncall.schedules) {
    const tr = row([s.schedule, s.on_call || "nobody (a gap)", s.until ? `${when(s.until)} (${ago(s.until)})` : "no change in 90 days"]);
    tr.dataset.schedule = s.schedule;
    if (!s.on_call) tr.children[1].className = "bad";
    table.append(tr);
  }
  box.append(scrolling(table));
  return box;
}

function incidentFilters(q) {
  const form = document.createElement("form");
  form.id = "incident-filters";
  form.className = "inc-filters";
  const status = choice("status", INC_ORDER, q.get("status"), "any status");
  const severity = choice("severity", INC_SEVERITIES, q.get("severity"), "any severity");
  const service = field("input", "service", { placeholder: "service", value: q.get("service") || "" });
  const go = text("button", "Filter");
  go.type = "submit";
  form.append(status, severity, service, go);
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    const p = new URLSearchParams();
    for (const [k, v] of [["status", status.value], ["severity", severity.value], ["service", service.value.trim()]]) if (v) p.set(k, v);
    location.hash = `#/incidents${p.toString() ? `?${p}` : ""}`;
  });
  return form;
}

function declareForm() {
  const title = field("input", "title", { placeholder: "what is wrong" });
  const severity = choice("severity", INC_SEVERITIES, "P3");
  const services = field("input", "services", { placeholder: "api, db (comma separated)" });
  const impact = field("textarea", "impact", { rows: 2, placeholder: "who is affected, how" });
  const box = document.createElement("section");
  box.className = "inc-panel";
  box.append(incidentForm("declare-form", "Declare an incident",
    [labelled("Title", title), labelled("Severity", severity), labelled("Services", services), labelled("Impact", impact)],
    "Declare", async () => {
      const res = await incidentSend("POST", "/incidents", {
        title: title.value, severity: severity.value,
        services: services.value.split(",").map((s) => s.trim()).filter(Boolean), impact: impact.value,
      });
      if (!res.ok) return res.message;
      incFlash(`Declared ${res.body.ref}.`, "ok");
      location.hash = incHash(res.body.ref);
      return "";
    }));
  return box;
}

async function showIncident(main, ref, action) {
  const back = text("a", "← all incidents", "back");
  back.href = "#/incidents";
  main.append(back);
  const [inc, resp, items] = await Promise.all([
    api(incPath(ref)), api(`${incPath(ref)}/response`), api(`${incPath(ref)}/action-items`),
  ]);
  const hasPostmortem = inc.timeline.some((e) => e.kind === "postmortem_created");
  const pm = hasPostmortem ? await api(`${incPath(ref)}/postmortem`) : null;
  const box = document.createElement("section");
  box.className = "inc-panel";
  box.id = "incident";
  box.dataset.ref = inc.ref;
  const head = text("h2", `${inc.ref}: ${inc.title}`);
  box.append(head);
  const badges = document.createElement("div");
  const sev = text("span", inc.severity, `badge sev sev-${inc.severity}`);
  sev.id = "incident-severity";
  const st = text("span", inc.status, `badge ${INC_STATUS_CLS[inc.status] || ""}`);
  st.id = "incident-status";
  badges.append(sev, st);
  for (const s of inc.services) badges.append(text("span", s, "badge muted"));
  box.append(badges);
  box.append(incidentFacts(inc));
  box.append(responseBox(inc, resp));
  if (canOperate()) {
    if (action === "ack" || action === "resolve") box.append(confirmBox(inc, action));
    box.append(actionButtons(inc));
  } else if (action === "ack" || action === "resolve") {
    const why = text("p", `The link asks to ${action === "ack" ? "acknowledge" : "resolve"} ${inc.ref}: that needs an operator's token (this one is a ${ROLE}'s).`, "bad");
    why.id = "action-needs-operator";
    box.append(why);
  }
  main.append(box);
  if (canOperate()) main.append(operatorForms(inc));
  main.append(timelineView(inc.timeline));
  main.append(alertsView(inc.alerts));
  main.append(postmortemPanel(inc, pm, items.items));
  if (inc.status !== "closed") refreshIncident(inc.ref, 5000);
}

function incidentFacts(inc) {
  const dl = document.createElement("dl");
  dl.className = "facts";
  dl.id = "incident-facts";
  const fact = (k, v, key) => { dl.append(text("dt", k)); const dd = text("dd", v); dd.dataset.key = key; dl.append(dd); };
  fact("Impact", inc.impact || "-", "impact");
  fact("Source", inc.source === "alertmanager" ? "Alertmanager" : "declared by hand", "source");
  fact("Triggered", `${when(inc.triggered_at)} by ${inc.triggered_by}`, "triggered");
  for (const s of INC_ORDER.slice(1)) {
    const at = inc[`${s}_at`];
    if (at) fact(s[0].toUpperCase() + s.slice(1), `${when(at)} by ${inc[`${s}_by`]}`, s);
  }
  const roles = INC_ROLES.filter(([k]) => inc.roles[k]).map(([k, label]) => `${label}: ${inc.roles[k]}`);
  fact("Roles", roles.join(", ") || "none assigned", "roles");
  return dl;
}

function responseBox(inc, resp) {
  const box = document.createElement("div");
  box.className = "inc-response";
  box.id = "incident-response";
  const by = document.createElement("p");
  by.id = "respond-by";
  if (resp.respond_by) {
    const met = resp.acknowledged_at ? new Date(resp.acknowledged_at) <= new Date(resp.respond_by) : null;
    by.textContent = `Respond by ${when(resp.respond_by)} (${ago(resp.respond_by)})`
      + (resp.acknowledged_at ? `; acknowledged ${when(resp.acknowledged_at)}, ${met ? "in time" : "late"}` : "");
    if (met === false || (!resp.acknowledged_at && new Date(resp.respond_by) < new Date())) by.className = "bad";
  } else by.textContent = `No response target for ${inc.severity}.`;
  box.append(by);
  const breached = text("p", resp.breached.length ? `Breached: ${resp.breached.join(", ")}` : "No response target breached.", resp.breached.length ? "bad" : "muted");
  breached.id = "breached";
  box.append(breached);
  const e = resp.escalation;
  const esc = text("p", !e ? "Escalation: no step has run yet."
    : !e.policy ? "Escalation: none (no escalation policy applies to it)."
      : `Escalation: policy ${e.policy}, ${e.state}, level ${e.level}${e.cycle ? `, repeat ${e.cycle}` : ""}`
        + (e.next_at ? `, next step ${ago(e.next_at)}` : "")
        + (e.channels.length ? `; sent on ${e.channels.join(", ")}` : ""), "muted");
  esc.id = "escalation";
  box.append(esc);
  return box;
}

// after a state change: the outcome in the page, the view re-read
async function incidentAct(ref, action, label) {
  const res = await incidentSend("POST", `${incPath(ref)}/${action}`);
  incFlash(res.ok ? `${ref}: ${label.toLowerCase()} done, now ${res.body.status}.` : res.message, res.ok ? "ok" : "bad");
  const target = incHash(ref);
  if (location.hash !== target) location.hash = target; // drops ?action=: the route follows
  else route();
}

function confirmBox(inc, action) {
  const [, target, label] = INC_ACTIONS.find(([a]) => a === action);
  const box = document.createElement("div");
  box.className = "inc-confirm";
  box.id = "confirm-action";
  if (!incidentActions(inc.status).some(([a]) => a === action)) {
    box.append(text("p", `The link asks to ${label.toLowerCase()} ${inc.ref}, but it is already ${inc.status}: nothing to do.`, "muted"));
    return box;
  }
  box.append(text("p", `${label} ${inc.ref}? It becomes ${target}.`));
  const yes = text("button", `Confirm: ${label.toLowerCase()}`);
  yes.id = "confirm-button";
  yes.addEventListener("click", () => { yes.disabled = true; incidentAct(inc.ref, action, label); });
  const no = text("a", "cancel", "cancel");
  no.href = incHash(inc.ref);
  const acts = document.createElement("div");
  acts.className = "actions";
  acts.append(yes, no);
  box.append(acts);
  return box;
}

function actionButtons(inc) {
  const acts = document.createElement("div");
  acts.className = "actions";
  acts.id = "incident-actions";
  for (const [action, , label] of incidentActions(inc.status)) {
    const b = text("button", label, action === "close" ? "secondary" : "");
    b.dataset.action = action;
    b.addEventListener("click", () => { b.disabled = true; incidentAct(inc.ref, action, label); });
    acts.append(b);
  }
  return acts;
}

function operatorForms(inc) {
  const box = document.createElement("section");
  box.className = "inc-panel inc-forms";
  const note = field("textarea", "text", { rows: 2, placeholder: "what was found, what was done" });
  const done = async (res, what) => {
    if (!res.ok) return res.message;
    incFlash(`${inc.ref}: ${what}.`, "ok");
    route();
    return "";
  };
  box.append(incidentForm("note-form", "Add a note", [note], "Add note",
    async () => done(await incidentSend("POST", `${incPath(inc.ref)}/notes`, { text: note.value }), "note added")));
  const inputs = INC_ROLES.map(([k]) => field("input", k, { value: inc.roles[k] || "", placeholder: "name (empty: none)" }));
  box.append(incidentForm("roles-form", "Roles", INC_ROLES.map(([, label], i) => labelled(label, inputs[i])), "Set roles",
    async () => done(await incidentSend("PUT", `${incPath(inc.ref)}/roles`,
      Object.fromEntries(INC_ROLES.map(([k], i) => [k, inputs[i].value.trim()]))), "roles set")));
  const pub = choice("status", INC_PUBLIC, "investigating");
  const msg = field("textarea", "text", { rows: 2, placeholder: "what the people affected are told" });
  box.append(incidentForm("update-form", "Public update (status page)", [labelled("Status", pub), msg], "Post update",
    async () => done(await incidentSend("POST", `${incPath(inc.ref)}/updates`, { status: pub.value, text: msg.value }), "public update posted")));
  return box;
}

const list = (v) => (Array.isArray(v) ? v.join(", ") : `${v}`);
const plain = (d) => Object.entries(d || {}).map(([k, v]) => `${k}=${typeof v === "object" && v !== null ? JSON.stringify(v) : v}`).join(" ");

function escalatedLine(d) {
  let s = d.level !== null && d.level !== undefined ? `${d.kind === "triggered" ? "Paged" : "Escalated to"} level ${d.level}` : `Escalation: ${d.kind || "?"}`;
  if (d.policy) s += ` of policy ${d.policy}`;
  if (d.recipients && d.recipients.length) s += `: ${list(d.recipients)}`;
  if (d.channels && d.channels.length) s += ` via ${list(d.channels)}`;
  return s;
}

function itemLine(verb) {
  return (d) => {
    let s = `Action item #${d.id} ${verb}: ${d.title || ""}`;
    if (d.changes && Object.keys(d.changes).length) s += ` (${Object.entries(d.changes).map(([k, v]) => `${k} → ${Array.isArray(v) ? v[1] : v}`).join(", ")})`;
    else if (d.owner) s += ` (owner ${d.owner}${d.due ? `, due ${d.due}` : ""})`;
    return s;
  };
}

// each timeline kind as one readable line (the post-mortem draft's wording)
const EVENT_TEXT = {
  declared: (d) => `Declared by hand (${d.severity || "?"})`,
  triggered: (d) => `Opened from Alertmanager (${d.severity || "?"})`,
  reopened: () => "Reopened: its alerts fire again",
  alert_firing: (d) => `Alert ${d.alertname || d.fingerprint} firing`,
  alert_resolved: (d) => `Alert ${d.alertname || d.fingerprint} resolved`,
  note: (d) => `Note: ${d.text}`,
  roles: (d) => (d.roles && Object.keys(d.roles).length
    ? `Roles: ${Object.entries(d.roles).map(([r, p]) => (p ? `${r} → ${p}` : `${r} cleared`)).join(", ")}` : "Roles changed"),
  escalated: escalatedLine,
  notification: (d) => `Notification (${d.kind || "?"}) on ${d.channel || "?"}${d.type ? ` (${d.type})` : ""}: ${d.outcome || "?"}`
    + (d.attempts && d.attempts !== 1 ? ` after ${d.attempts} attempts` : "") + (d.error ? ` — ${d.error}` : ""),
  target_breached: (d) => `Response target ${d.target || "?"} breached${d.severity ? ` (${d.severity})` : ""}${d.late_s !== undefined && d.late_s !== null ? `, ${duration(d.late_s)} late` : ""}`,
  timer_late: (d) => d.note || `Escalation timer late (${plain(d)})`,
  public_update: (d) => `Public update (${d.status}): ${d.text}`,
  postmortem_created: () => "Post-mortem drafted",
  postmortem_updated: (d) => `Post-mortem ${d.how || "edited"}`,
  postmortem_published: () => "Post-mortem published",
  action_item_added: itemLine("added"),
  action_item_updated: itemLine("updated"),
};
for (const s of ["acknowledged", "mitigated", "resolved", "closed"]) EVENT_TEXT[s] = (d) => `Status → ${s}${d.reason ? ` (${d.reason})` : ""}`;

function eventText(e) {
  const render = EVENT_TEXT[e.kind] || (e.kind.startsWith("notify_") ? escalatedLine : null);
  try { if (render) return render(e.detail || {}); } catch (_) { /* a detail of another shape */ }
  const rest = plain(e.detail);
  return rest ? `${e.kind}: ${rest}` : e.kind;
}

function timelineView(events) {
  const box = document.createElement("section");
  box.className = "inc-panel";
  box.append(text("h3", "Timeline"));
  const ol = document.createElement("ol");
  ol.className = "timeline";
  ol.id = "incident-timeline";
  for (const e of [...events].sort((a, b) => new Date(a.at) - new Date(b.at))) {
    const li = document.createElement("li");
    li.dataset.kind = e.kind;
    li.append(text("span", when(e.at), "muted at"), " ", text("span", e.actor, "actor"), " ");
    const what = text("span", eventText(e), "what");
    if (e.kind === "notification") what.classList.add(e.detail.outcome === "ok" ? "ok" : "bad");
    if (e.kind === "target_breached") what.classList.add("bad");
    li.append(what);
    ol.append(li);
  }
  box.append(ol);
  return box;
}

function alertsView(alerts) {
  const box = document.createElement("section");
  box.className = "inc-panel";
  box.append(text("h3", "Alerts"));
  if (!alerts.length) { box.append(text("p", "No alert (declared by hand).", "muted")); return box; }
  const table = document.createElement("table");
  table.id = "incident-alerts";
  table.append(row(["Alert", "Status", "Labels", "Started", "Ended", "Last seen"], "th"));
  for (const a of alerts) {
    const labels = Object.entries(a.labels).filter(([k]) => k !== "alertname").map(([k, v]) => `${k}=${v}`).join(" ");
    const tr = row([a.labels.alertname || a.fingerprint, a.status, labels, when(a.starts_at), when(a.ends_at), ago(a.last_seen)]);
    tr.dataset.fingerprint = a.fingerprint;
    tr.children[1].className = a.status === "firing" ? "bad" : "ok";
    tr.children[2].className = "small mono";
    table.append(tr);
  }
  box.append(scrolling(table));
  return box;
}

function postmortemPanel(inc, pm, items) {
  const box = document.createElement("section");
  box.className = "inc-panel";
  box.id = "postmortem";
  box.append(text("h3", "Post-mortem"));
  const path = `${incPath(inc.ref)}/postmortem`;
  const after = async (res, what) => {
    incFlash(res.ok ? `${inc.ref}: ${what}.` : res.message, res.ok ? "ok" : "bad");
    route();
  };
  if (!pm) {
    box.append(text("p", "No post-mortem yet.", "muted"));
    if (canOperate()) {
      const create = text("button", "Draft from the timeline");
      create.id = "postmortem-create";
      create.addEventListener("click", async () => { create.disabled = true; after(await incidentSend("POST", path), "post-mortem drafted"); });
      box.append(create);
    }
  } else {
    const st = text("p", `${pm.status === "published" ? "Published" : "Draft"}, last changed ${when(pm.updated_at)} by ${pm.updated_by}`, pm.status === "published" ? "ok" : "muted");
    st.id = "postmortem-status";
    st.dataset.status = pm.status;
    box.append(st);
    const body = field("textarea", "body", { rows: 16, readOnly: !canOperate() });
    body.id = "postmortem-body";
    body.className = "mono postmortem-body";
    body.value = pm.body;
    body.defaultValue = pm.body;
    box.append(body);
    if (canOperate()) {
      const acts = document.createElement("div");
      acts.className = "actions";
      const save = text("button", "Save", "secondary");
      save.id = "postmortem-save";
      save.addEventListener("click", async () => { save.disabled = true; after(await incidentSend("PUT", path, { body: body.value }), "post-mortem saved"); });
      acts.append(save);
      if (pm.status === "draft") {
        const publish = text("button", "Publish");
        publish.id = "postmortem-publish";
        publish.addEventListener("click", async () => {
          publish.disabled = true;
          if (body.value !== body.defaultValue) {
            const saved = await incidentSend("PUT", path, { body: body.value });
            if (!saved.ok) { after(saved, ""); return; }
          }
          after(await incidentSend("POST", `${path}/publish`), "post-mortem published");
        });
        acts.append(publish);
      }
      box.append(acts);
    }
    const md = text("button", "Download Markdown", "secondary small-button");
    md.id = "postmortem-download";
    md.addEventListener("click", () => downloadPostmortem(inc.ref));
    box.append(md);
  }
  box.append(actionItems(inc, items));
  return box;
}

// GET .../postmortem.md with the token, saved as INC-...-postmortem.md
async function downloadPostmortem(ref) {
  const res = await fetch(`/api/v1${incPath(ref)}/postmortem.md`, { headers: { Authorization: `Bearer ${token()}` } });
  if (!res.ok) { incFlash(`The post-mortem's Markdown: HTTP ${res.status}`, "bad"); route(); return; }
  const url = URL.createObjectURL(await res.blob());
  const a = document.createElement("a");
  a.href = url;
  a.download = `${ref}-postmortem.md`;
  document.body.append(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

function actionItems(inc, items) {
  const box = document.createElement("div");
  box.append(text("h3", "Action items"));
  if (!items.length) box.append(text("p", "None yet.", "muted"));
  else {
    const table = document.createElement("table");
    table.id = "action-items";
    table.append(row(["#", "Action", "Owner", "Due", "Status", ""], "th"));
    for (const it of items) {
      const act = document.createElement("td");
      if (canOperate() && it.status === "open") {
        const b = text("button", "Mark done", "secondary small-button");
        b.addEventListener("click", async () => {
          b.disabled = true;
          const res = await incidentSend("PATCH", `/incidents/action-items/${it.id}`, { status: "done" });
          incFlash(res.ok ? `Action item #${it.id} done.` : res.message, res.ok ? "ok" : "bad");
          route();
        });
        act.append(b);
      }
      const tr = row([`${it.id}`, it.title, it.owner, it.due || "-", it.overdue ? "overdue" : it.status, act]);
      tr.dataset.id = `${it.id}`;
      tr.children[4].className = `item-status ${it.overdue ? "bad" : it.status === "done" ? "ok" : ""}`;
      table.append(tr);
    }
    box.append(scrolling(table));
  }
  if (canOperate()) {
    const title = field("input", "title", { placeholder: "what to do" });
    const owner = field("input", "owner", { placeholder: "who" });
    const due = field("input", "due", { type: "date" });
    box.append(incidentForm("action-item-form", "", [labelled("Action", title), labelled("Owner", owner), labelled("Due", due)], "Add action item",
      async () => {
        const res = await incidentSend("POST", `${incPath(inc.ref)}/action-items`, { title: title.value, owner: owner.value, due: due.value || null });
        if (!res.ok) return res.message;
        incFlash(`Action item #${res.body.id} added.`, "ok");
        route();
        return "";
      }));
  }
  return box;
}

// something typed and not yet sent: a refresh would lose it
function incidentEditing() {
  const page = $("#page");
  if (page.contains(document.activeElement) && ["INPUT", "TEXTAREA", "SELECT"].includes(document.activeElement.tagName)) return true;
  for (const el of page.querySelectorAll("input, textarea")) if (el.value !== el.defaultValue) return true;
  return false;
}

// re-read the incident after `ms` while it is still the one shown (the `later` pattern),
// waiting while the user is typing in one of its forms
function refreshIncident(ref, ms) {
  clearTimeout(INC_TIMER);
  INC_TIMER = setTimeout(() => {
    if ($("#page").dataset.page !== "incidents" || query().get("ref") !== ref || !token()) return;
    if (incidentEditing()) refreshIncident(ref, ms);
    else route();
  }, ms);
}
