// sendpath ops dashboard: the ops API in the browser. No framework, no
// external assets: it must work offline on a council laptop. Every value is
// put in the page as text (never as HTML), so nothing from an event can run.
"use strict";

const $ = (sel) => document.querySelector(sel);
const state = { cursors: [], teamsLoaded: false };

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") e.className = v; else e.setAttribute(k, v);
  }
  for (const k of kids) e.append(k instanceof Node ? k : document.createTextNode(k ?? ""));
  return e;
}

function say(text) { $("#status").textContent = text; }

// The API needs a bearer token (ops:read); the page itself is public and
// holds no data. The token lives in sessionStorage: this tab only.
const tokenKey = "sendpath.token";
class SignInNeeded extends Error {}

async function api(path) {
  const token = sessionStorage.getItem(tokenKey);
  if (!token) throw new SignInNeeded("Sign in to see the deadlines");
  const r = await fetch(path, { headers: { Accept: "application/json", Authorization: `Bearer ${token}` } });
  const body = await r.json().catch(() => ({}));
  if (r.status === 401) {
    sessionStorage.removeItem(tokenKey);
    signIn("That token was not accepted. Check it and sign in again.");
    throw new SignInNeeded("Sign in again");
  }
  if (!r.ok) {
    const why = (body.errors || []).map((e) => `${e.field} ${e.reason}`).join("; ");
    throw new Error(`${body.title || r.status}${why ? ": " + why : ""}`);
  }
  return body;
}

const clockNames = {
  decision_to_assess: "Decision to assess (6 weeks)", advice: "Advice (6 weeks)",
  no_plan_notice: "Decision not to issue (16 weeks)", final_plan: "Final plan (20 weeks)",
  draft_response: "Draft plan response (15 days)", school_consultation: "School consultation (15 days)",
  annual_review: "Annual review", review_report: "Review report (2 weeks)",
  review_decision: "Review decision (4 weeks)", amended_plan: "Amended plan (8 weeks)",
  phase_transfer: "Phase transfer", sen_support_review: "SEN Support review",
};
const clockLabel = (c) => clockNames[c] || c;
// A clock id is case:clock[:qualifier]:start; the qualifier (an adviser, a
// school) tells apart clocks of one kind on a case.
const qualifier = (id) => { const p = (id || "").split(":"); return p.length > 3 ? p.slice(2, -1).join(":") : ""; };
const plural = (n, one, many) => `${n} ${n === 1 ? one : many}`;

function show(view) {
  for (const v of ["signin", "deadlines", "timeliness", "case"]) $(`#view-${v}`).hidden = v !== view;
}

function signIn(why) {
  show("signin");
  say(why || "");
  $("#token").focus();
}

// ---- deadlines ------------------------------------------------------------
function filterQuery() {
  const f = new FormData($("#filters")), q = new URLSearchParams();
  for (const [k, v] of f) if (v) q.set(k, v);
  q.set("limit", "25");
  return q;
}

async function loadTeams() {
  if (state.teamsLoaded) return;
  const t = await api("/v1/teams");
  for (const name of t.teams) $("#f-team").append(el("option", { value: name }, name));
  state.teamsLoaded = true;
}

function renderCounts(counts) {
  const body = $("#counts tbody"), sel = $("#f-clock"), chosen = sel.value;
  body.replaceChildren();
  const clocks = Object.keys(counts).sort();
  for (const c of clocks) {
    const n = counts[c];
    body.append(el("tr", {}, el("th", { scope: "row" }, clockLabel(c)),
      el("td", { class: "num" }, String(n.overdue)), el("td", { class: "num" }, String(n.approaching)),
      el("td", { class: "num" }, String(n.open))));
    if (![...sel.options].some((o) => o.value === c)) sel.append(el("option", { value: c }, clockLabel(c)));
  }
  if (!clocks.length) body.append(el("tr", {}, el("td", { colspan: "4" }, "No open deadlines.")));
  sel.value = chosen;
}

function renderRows(list) {
  const body = $("#deadlines tbody");
  body.replaceChildren();
  for (const r of list.rows) {
    const late = r.state === "overdue";
    const left = late ? `${plural(r.days_overdue, "day", "days")} overdue`
      : `${plural(r.working_days_left, "working day", "working days")} left`;
    const q = qualifier(r.clock_id);
    body.append(el("tr", {},
      el("td", {}, el("a", { href: `#/case/${r.case_id}` }, r.case_id)),
      el("td", {}, r.child || "-"), el("td", {}, clockLabel(r.clock) + (q ? `: ${q}` : "") + (r.excepted ? " (exception)" : "")),
      el("td", { class: "date" }, r.due_date),
      el("td", { class: "num " + (late ? "late" : r.state === "approaching" ? "soon" : "") }, left),
      el("td", {}, r.team), el("td", {}, r.school_urn || "-")));
  }
  if (!list.rows.length) body.append(el("tr", {}, el("td", { colspan: "7" }, "Nothing matches these filters.")));
  const page = state.cursors.length + 1;
  $("#deadlines-caption").textContent = `Deadlines: ${list.total} found, page ${page}`;
  $("#more").hidden = !list.next_cursor;
  $("#more").dataset.cursor = list.next_cursor || "";
  $("#first").hidden = state.cursors.length === 0;
}

async function loadDeadlines(cursor) {
  show("deadlines");
  say("Loading deadlines...");
  try {
    await loadTeams();
    const q = filterQuery();
    if (cursor) q.set("cursor", cursor);
    const list = await api("/v1/deadlines?" + q);
    $("#asof").textContent = `As of ${list.as_of}`;
    renderCounts(list.counts);
    renderRows(list);
    say("");
  } catch (e) { if (!(e instanceof SignInNeeded)) say("Could not load deadlines: " + e.message); }
}

// ---- timeliness -----------------------------------------------------------
const pctText = (v) => (v === null || v === undefined ? "-" : `${v}%`);
const numText = (v) => (v === null || v === undefined ? "-" : String(v));

function renderChart(months) {
  const w = 40 * Math.max(months.length, 1) + 50, h = 200, base = 170, top = 20;
  const ns = "http://www.w3.org/2000/svg";
  const svg = document.createElementNS(ns, "svg");
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  // Drawn at its own size (shrunk only on a narrow screen), so a few months
  // do not blow the text up to headline size.
  svg.setAttribute("width", w);
  svg.setAttribute("height", h);
  svg.setAttribute("role", "img");
  svg.setAttribute("aria-label", "Percent of final plans issued within 20 weeks by month: " +
    months.map((m) => `${m.month} ${pctText(m.pct_within_20_weeks_excluding_exceptions)}`).join(", "));
  const add = (tag, attrs, text) => {
    const e = document.createElementNS(ns, tag);
    for (const [k, v] of Object.entries(attrs)) e.setAttribute(k, v);
    if (text !== undefined) e.textContent = text;
    svg.append(e);
  };
  add("line", { x1: 40, y1: base, x2: w, y2: base, stroke: "#0b0c0c" });
  for (const p of [0, 50, 100]) add("text", { x: 2, y: base - (base - top) * p / 100 + 4 }, `${p}%`);
  months.forEach((m, i) => {
    const v = m.pct_within_20_weeks_excluding_exceptions, x = 48 + i * 40;
    if (v !== null) {
      const bh = (base - top) * v / 100;
      add("rect", { x, y: base - bh, width: 28, height: Math.max(bh, 1), fill: "#1d70b8" });
      add("text", { x, y: base - bh - 4 }, `${Math.round(v)}`);
    }
    add("text", { x, y: base + 16 }, m.month.slice(2));
  });
  $("#chart").replaceChildren(svg);
}

function renderTimeliness(t) {
  const T = t.total, figs = [
    ["Requests decided within 6 weeks", pctText(T.pct_decided_within_6_weeks)],
    ["Plans within 20 weeks, excluding exceptions", pctText(T.pct_within_20_weeks_excluding_exceptions)],
    ["Plans within 20 weeks, including exceptions", pctText(T.pct_within_20_weeks_including_exceptions)],
    ["Final plans issued", numText(T.plans_issued)], ["Mean weeks to issue", numText(T.mean_weeks_to_issue)],
    ["Plans over 52 weeks", numText(T.plans_over_52_weeks)],
    ["Annual reviews overdue", numText(T.annual_reviews_overdue)]];
  $("#figures").replaceChildren(...figs.map(([k, v]) => el("div", {}, el("dt", {}, k), el("dd", {}, v))));
  renderChart(t.months);
  $("#months tbody").replaceChildren(...t.months.map((m) => el("tr", {},
    el("th", { scope: "row" }, m.month), el("td", { class: "num" }, numText(m.requests_decided)),
    el("td", { class: "num" }, pctText(m.pct_decided_within_6_weeks)),
    el("td", { class: "num" }, numText(m.plans_issued)),
    el("td", { class: "num" }, pctText(m.pct_within_20_weeks_excluding_exceptions)),
    el("td", { class: "num" }, numText(m.mean_weeks_to_issue)),
    el("td", { class: "num" }, numText(m.annual_reviews_overdue)))));
}

async function loadTimeliness() {
  show("timeliness");
  if (!$("#p-to").value) {
    const d = await api("/v1/deadlines?limit=1").catch(() => ({ as_of: new Date().toISOString().slice(0, 10) }));
    const to = d.as_of, y = Number(to.slice(0, 4)) - 1;
    if (!$("#p-to").value) { // unless typed in while we asked
      $("#p-to").value = to;
      $("#p-from").value = `${y}${to.slice(4, 8)}01`;
    }
  }
  const q = new URLSearchParams({ from: $("#p-from").value, to: $("#p-to").value });
  $("#csv").href = `/v1/stats/timeliness?${q}&format=csv`;
  say("Loading timeliness...");
  try { renderTimeliness(await api("/v1/stats/timeliness?" + q)); say(""); }
  catch (e) { if (!(e instanceof SignInNeeded)) say("Could not load timeliness: " + e.message); }
}

// ---- a case ---------------------------------------------------------------
function detail(t) {
  const parts = [];
  if (t.clock) parts.push(clockLabel(t.clock));
  if (t.due_date) parts.push(`due ${t.due_date}`);
  if (t.adviser) parts.push(`adviser: ${t.adviser}`);
  if (t.template) parts.push(`${t.template} to ${t.recipient_role || "?"} (${t.outcome || ""})`);
  if (t.reason) parts.push(t.reason);
  return parts.join(", ");
}

async function loadCase(id) {
  show("case");
  say("Loading case...");
  try {
    const c = await api(`/v1/cases/${encodeURIComponent(id)}`);
    $("#case-title").textContent = `Case ${c.case_id}`;
    const fields = [["Child", c.child_name], ["Status", c.status], ["Request received", c.received_date],
      ["School", c.school_urn ? `${c.school_name || ""} (${c.school_urn})` : "-"], ["Team", c.team],
      ["Decided", c.decided_on], ["Final plan issued", c.issued_on]];
    $("#case-fields").replaceChildren(...fields.filter(([, v]) => v).map(([k, v]) =>
      el("div", {}, el("dt", {}, k), el("dd", {}, v))));
    const clocks = c.open_clocks.filter((k) => !k.informational);
    $("#case-clocks tbody").replaceChildren(...clocks.map((k) => el("tr", {},
      el("th", { scope: "row" }, clockLabel(k.clock)), el("td", {}, k.due_date),
      el("td", { class: k.state === "overdue" ? "late" : k.state === "approaching" ? "soon" : "" },
        k.state === "overdue" ? `overdue by ${plural(k.days_overdue, "day", "days")}` :
          `${k.state}, ${plural(k.working_days_left, "working day", "working days")} left`),
      el("td", {}, k.excepted ? (k.exception_reason || "yes") : "-"))));
    if (!clocks.length) $("#case-clocks tbody").append(el("tr", {}, el("td", { colspan: "4" }, "No open clocks.")));
    $("#case-missing").replaceChildren(...(c.missing_advice.length ? c.missing_advice.map((a) => el("li", {}, a))
      : [el("li", {}, "None outstanding.")]));
    $("#case-timeline tbody").replaceChildren(...c.timeline.map((t) => el("tr", {},
      el("td", {}, t.business_date), el("td", {}, t.type), el("td", {}, detail(t)))));
    $("#case-notes tbody").replaceChildren(...c.notifications.map((n) => el("tr", {},
      el("td", {}, n.business_date), el("td", {}, n.template || "-"), el("td", {}, n.recipient_role || "-"),
      el("td", {}, n.channel || "-"), el("td", {}, n.outcome || n.type))));
    say("");
    $("#case-title").focus?.();
  } catch (e) { if (!(e instanceof SignInNeeded)) say("Could not load the case: " + e.message); }
}

// ---- routing ----------------------------------------------------------------
function route() {
  if (!sessionStorage.getItem(tokenKey)) return signIn();
  const h = location.hash || "#/";
  if (h.startsWith("#/case/")) return loadCase(h.slice(7));
  if (h === "#/timeliness") return loadTimeliness();
  state.cursors = [];
  return loadDeadlines();
}

$("#signin").addEventListener("submit", (e) => {
  e.preventDefault();
  sessionStorage.setItem(tokenKey, $("#token").value.trim());
  $("#token").value = "";
  route();
});
$("#filters").addEventListener("submit", (e) => { e.preventDefault(); state.cursors = []; loadDeadlines(); });
$("#period").addEventListener("submit", (e) => { e.preventDefault(); loadTimeliness(); });
$("#more").addEventListener("click", () => {
  state.cursors.push($("#more").dataset.cursor);
  loadDeadlines($("#more").dataset.cursor);
});
$("#first").addEventListener("click", () => { state.cursors = []; loadDeadlines(); });
window.addEventListener("hashchange", route);
route();
