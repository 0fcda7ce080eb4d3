// buttress dashboard: the Runbooks page (#/runbooks), loaded after app.js and incidents.js and
// using their helpers ($, text, api, row, scrolling, query, ago, flash, noteLine, later, ROLE,
// incidentSend, field, labelled). The list of runbooks, each with a form of its parameters and
// Run / Dry run buttons (for a token with the runbook's role), and the recent runs; one run
// (#/runbooks?run=ID) with its steps, refreshed while it runs, Approve / Refuse on a confirm
// step that waits, and Resume / Roll back for a run that failed or was interrupted.
"use strict";

const RB_RANK = { viewer: 0, operator: 1, admin: 2 };
const RB_STATUS_CLS = { succeeded: "ok", running: "warn", failed: "bad", interrupted: "bad", rolled_back: "warn", skipped: "muted", timed_out: "bad" };
const rbMay = (role) => (RB_RANK[ROLE] || 0) >= (RB_RANK[role] ?? 1);
const rbHash = (id) => `#/runbooks?run=${encodeURIComponent(id)}`;

async function showRunbooks(main) {
  main.append(text("h1", "Runbooks"));
  main.append(noteLine("runbooks-note"));
  const q = query();
  if (q.get("run")) await runbookRun(main, q.get("run"));
  else await runbookList(main, q.get("name"));
}

// every runbook, or only `name` (an alert's runbook_url links to #/runbooks?name=NAME)
async function runbookList(main, name) {
  const only = name ? `&runbook=${encodeURIComponent(name)}` : "";
  const [all, runs] = await Promise.all([api("/runbooks"), api(`/runbooks/runs?limit=25${only}`)]);
  const books = name ? all.filter((b) => b.name === name) : all;
  if (name && !books.length) main.append(text("p", `No runbook named ${name}.`, "error"));
  if (!books.length) {
    main.append(text("p", "No runbooks yet. Runbooks declared under runbooks: in buttress.yaml appear here (docs/runbooks.md).", "empty"));
  }
  const list = document.createElement("div");
  list.id = "runbook-list";
  for (const b of books) list.append(runbookBox(b));
  main.append(list);
  main.append(text("h2", "Recent runs"));
  if (!runs.length) { main.append(text("p", "No runs yet.", "muted")); return; }
  const table = document.createElement("table");
  table.id = "runbook-runs";
  table.append(row(["Run", "Runbook", "Mode", "Status", "Actor", "Started"], "th"));
  for (const r of runs) {
    const link = text("a", `${r.id}`);
    link.href = rbHash(r.id);
    const cell = document.createElement("td");
    cell.append(link);
    const tr = row([cell, r.runbook, r.mode + (r.dry_run ? " (dry run)" : ""), r.status, r.actor, ago(r.started_at)]);
    tr.dataset.run = r.id;
    tr.children[3].className = `status ${RB_STATUS_CLS[r.status] || ""}`;
    table.append(tr);
  }
  main.append(scrolling(table));
  if (runs.some((r) => r.status === "running")) later("runbooks", 2000);
}

function runbookBox(b) {
  const box = document.createElement("section");
  box.className = "inc-panel runbook";
  box.dataset.runbook = b.name;
  const head = text("h3", b.name);
  const steps = `${b.steps.length} step${b.steps.length === 1 ? "" : "s"}`;
  head.append(text("span", ` role ${b.role}${b.exclusive ? ", exclusive" : ""}, ${steps}`, "muted"));
  box.append(head);
  if (b.description) box.append(text("p", b.description));
  box.append(text("p", b.steps.map((s, i) => `${i}. ${s.name} (${s.kind})`).join("  "), "small"));
  if (!rbMay(b.role)) return box;
  const form = document.createElement("form");
  form.className = "inc-form";
  const inputs = b.params.map((p) => {
    const input = field("input", p.name, { value: p.default === null ? "" : `${p.default}`, placeholder: p.type });
    form.append(labelled(p.name, input));
    return input;
  });
  const error = text("p", "", "error");
  error.setAttribute("role", "alert");
  const start = async (dryRun) => {
    const params = {};
    for (const input of inputs) if (input.value !== "") params[input.name] = input.value;
    const res = await incidentSend("POST", `/runbooks/${encodeURIComponent(b.name)}/runs`, { params, dry_run: dryRun });
    if (!res.ok) { error.textContent = res.message; return; }
    location.hash = rbHash(res.body.id);
  };
  for (const [label, dry] of [["Run", false], ["Dry run", true]]) {
    const button = text("button", label);
    button.type = "button";
    button.className = dry ? "dry-run" : "run";
    button.addEventListener("click", () => start(dry));
    form.append(button, " ");
  }
  form.append(error);
  box.append(form);
  return box;
}

async function runbookRun(main, id) {
  const r = await api(`/runbooks/runs/${encodeURIComponent(id)}`);
  const back = text("a", "All runbooks");
  back.href = "#/runbooks";
  main.append(back);
  const head = text("h2", `Run ${r.id}: ${r.runbook}${r.dry_run ? " (dry run)" : ""}`);
  main.append(head);
  const status = text("p", r.status, `status ${RB_STATUS_CLS[r.status] || ""}`);
  status.id = "run-status";
  main.append(status);
  main.append(text("p", `${r.mode} by ${r.actor}, started ${ago(r.started_at)}` + (r.resumed_from ? `, continues run ${r.resumed_from}` : ""), "muted"));
  if (r.error) main.append(text("p", r.error, "error"));
  if (!r.dry_run && ["failed", "interrupted"].includes(r.status) && canOperate()) main.append(followBox(r));
  const table = document.createElement("table");
  table.id = "run-steps";
  table.append(row(["Step", "Name", "Kind", "Status", "Answer", "Output"], "th"));
  for (const s of r.steps) {
    const answer = s.approved === null ? (s.waiting ? "waiting" : "-")
      : `${s.approved ? "approved" : "refused"} by ${s.confirmed_by}${s.defaulted ? " (default)" : ""}`;
    const tr = row([s.path, s.name, s.kind, s.status, answer, (s.error || s.output || "").slice(0, 300)]);
    tr.dataset.step = s.path;
    tr.children[3].className = `status ${RB_STATUS_CLS[s.status] || ""}`;
    table.append(tr);
    if (s.waiting) main.append(rbConfirmBox(r, s));
  }
  main.append(scrolling(table));
  if (r.status === "running") later("runbooks", 1000);
}

function rbConfirmBox(r, s) {
  const box = document.createElement("section");
  box.className = "inc-panel";
  box.id = "confirm-box";
  box.append(text("p", `Step ${s.path} (${s.name}) asks: ${s.prompt}`));
  if (s.confirm_deadline) box.append(text("p", `Without an answer by ${new Date(s.confirm_deadline).toLocaleTimeString()} its default applies.`, "muted"));
  if (!canOperate()) return box;
  const comment = field("input", "comment", { placeholder: "why (optional)" });
  box.append(labelled("Comment", comment));
  const error = text("p", "", "error");
  for (const [label, approved] of [["Approve", true], ["Refuse", false]]) {
    const button = text("button", label);
    button.type = "button";
    button.id = approved ? "confirm-approve" : "confirm-refuse";
    button.addEventListener("click", async () => {
      button.disabled = true;
      const res = await incidentSend("POST", `/runbooks/runs/${r.id}/confirm`, { step: s.path, approved, comment: comment.value });
      if (!res.ok) { error.textContent = res.message; button.disabled = false; return; }
      route();
    });
    box.append(button, " ");
  }
  box.append(error);
  return box;
}

// resume a failed or interrupted run from the step it stopped at, or roll back what it did
function followBox(r) {
  const box = document.createElement("div");
  box.className = "actions";
  box.id = "run-follow";
  const error = text("p", "", "error");
  for (const [label, action] of [["Resume", "resume"], ["Roll back", "rollback"]]) {
    const button = text("button", label);
    button.type = "button";
    button.dataset.action = action;
    button.addEventListener("click", async () => {
      button.disabled = true;
      const res = await incidentSend("POST", `/runbooks/runs/${r.id}/${action}`, {});
      if (!res.ok) { error.textContent = res.message; button.disabled = false; return; }
      location.hash = rbHash(res.body.id);
    });
    box.append(button);
  }
  box.append(error);
  return box;
}
