// The page's client: every read and write goes through the same JSON API as other clients.
"use strict";
const $ = (sel, root = document) => root.querySelector(sel);
const T = window.T || {};
const esc = (s) => String(s ?? "").replace(/[&<>"']/g, (c) => ({"&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;"}[c]));
const when = (iso) => iso ? new Date(iso).toLocaleString(window.LANG === "en" ? "en-GB" : "id-ID", {dateStyle: "medium", timeStyle: "short"}) : "";
const day = (iso) => iso ? new Date(iso).toLocaleDateString(window.LANG === "en" ? "en-GB" : "id-ID", {dateStyle: "medium"}) : "";

function token() { return localStorage.getItem("asnflow-token") || ""; }

async function api(path, opts = {}) {
  const r = await fetch(path, {...opts, headers: {"Authorization": "Bearer " + token(), "Content-Type": "application/json", "Accept-Language": window.LANG, ...(opts.headers || {})}});
  const body = await r.json().catch(() => ({}));
  if (!r.ok) { const e = new Error(body.message || r.statusText); e.status = r.status; e.body = body; throw e; }
  return body;
}

function showError(e) { const el = $("#error"); el.textContent = e.message; el.hidden = false; }

async function signIn() {
  $("#token").value = token();
  if (!token()) { $("#signin").hidden = false; return null; }
  try {
    const me = await api("/api/v1/me");
    $("#me").textContent = `${me.name} (${me.roles.join(", ")})`;
    const picker = $("#demo");
    if (picker) picker.value = me.nip;
    $("#signin").hidden = true;
    return me;
  } catch (e) { $("#signin").hidden = false; showError(e); return null; }
}

async function setupAuth() {
  $("#token").addEventListener("change", () => { localStorage.setItem("asnflow-token", $("#token").value.trim()); location.reload(); });
  if (document.body.dataset.dev === "true") {
    const users = await fetch("/dev/users").then((r) => r.json());
    for (const u of users) {
      const o = document.createElement("option"); o.value = u.nip; o.textContent = `${u.nama} — ${u.roles.join(", ")}${u.tenant ? ` [${u.tenant}]` : ""}`;
      $("#demo").appendChild(o);
    }
    $("#demo").addEventListener("change", async () => {
      if (!$("#demo").value) return;
      const r = await fetch("/dev/token?nip=" + encodeURIComponent($("#demo").value)).then((r) => r.json());
      localStorage.setItem("asnflow-token", r.token); location.reload();
    });
  }
  return signIn();
}

// --- case timeline (inbox panel and case page) ---------------------------------------------
function summary(e) {
  const p = e.payload || {};
  if (e.type === "TaskDecided") return `${esc(p.kind)} → <strong>${esc(p.outcome)}</strong>`;
  if (e.type === "TaskOpened") return `${esc(p.kind)} · ${esc(p.assignee_nip || p.candidate_role || "")} · ${T["col.due"]}: ${day(p.due_at)}`;
  if (e.type === "PredicateDetermined") return `<strong>${esc(p.predicate)}</strong>`;
  if (e.type === "CaseClosed") return esc(p.status);
  return "";
}

async function loadTimeline(caseId) {
  const h = await api(`/api/v1/cases/${encodeURIComponent(caseId)}/events`);
  $("#chain").innerHTML = h.chain_intact ? `<span class="ok">✔ ${T["case.chain_ok"]}</span>` : `<span class="err">✘ ${T["case.chain_broken"]} ${h.broken_at}</span>`;
  $("#timeline").innerHTML = h.data.map((e) =>
    `<li><strong>${esc(e.type)}</strong> · ${when(e.occurred_at)} · ${esc(e.actor.nip || T["case.system"])}${e.actor.on_behalf_of ? " a.n. " + esc(e.actor.on_behalf_of) : ""}` +
    `${e.reason ? " · “" + esc(e.reason) + "”" : ""} ${summary(e)}</li>`).join("");
  return h;
}

// --- inbox ------------------------------------------------------------------------------------
let current = null;

async function openTask(t) {
  current = t; $("#decide").hidden = false;
  $("#decide-task").textContent = t.title;
  // Nothing can be typed into the previous task's form while this one is being drawn.
  const formEl = $("#decide-form"); formEl.inert = true; $("#reason").value = "";
  try { await drawTask(t); } finally { formEl.inert = false; }
  $("#decide-h").focus();
}

async function drawTask(t) {
  const form = await decisionForm(t.kind);
  const label = (o) => form && form.outcomes[o] ? `${o} — ${form.outcomes[o][window.LANG] || form.outcomes[o].id}` : o;
  $("#outcome").innerHTML = t.outcomes.map((o) => `<option value="${esc(o)}">${esc(label(o))}</option>`).join("");
  const history = await loadTimeline(t.case_id);
  renderDecisionForm($("#kind-fields"), form, () => $("#outcome").value, caseFacts(history.data));
  $("#behalf").textContent = t.on_behalf_of ? `${T["form.behalf"]} ${t.on_behalf_of}` : "";
  $("#case-link").textContent = t.case_id; $("#case-link").href = `/cases/${encodeURIComponent(t.case_id)}`;
  $("#result").textContent = "";
  clearFieldErrors($("#decide-form"));
}

async function act(t, action) {
  try {
    await api(`/api/v1/tasks/${encodeURIComponent(t.id)}/${action}`, {method: "POST", body: "{}"});
    announce($("#inbox-status"), `${action === "claim" ? T["form.claimed"] : T["form.released"]}: ${t.title}`);
    await loadInbox();
    // Keyboard users stay on the task they acted on: its Open button is the next step.
    const again = document.querySelector(`#tasks tr[data-task="${CSS.escape(t.id)}"] .open-task`);
    if (again) again.focus();
  } catch (e) { showError(e); }
}

async function loadInbox() {
  const form = new FormData($("#filters"));
  const params = new URLSearchParams();
  for (const [k, v] of form) if (v) params.set(k, v);
  const tasks = await api("/api/v1/tasks?" + params);
  const body = $("#tasks tbody"); body.innerHTML = "";
  for (const t of tasks.data) {
    const tr = document.createElement("tr"); tr.dataset.task = t.id;
    tr.innerHTML = `<td><input type="checkbox" class="pick" aria-label="${T["col.select"]}: ${esc(t.title)}" value="${esc(t.id)}"></td>` +
      `<td>${esc(t.title)}<br><small>${esc(t.case_id)}</small>${t.on_behalf_of ? `<br><small>${T["form.behalf"]} ${esc(t.on_behalf_of)}</small>` : ""}</td><td>${esc(t.kind)}</td>` +
      `<td class="${t.overdue ? "late" : ""}">${day(t.due_at)}${t.overdue ? " · " + T["task.late"] : ""}</td><td>${esc(t.status)}</td><td class="actions"></td>`;
    const cell = $(".actions", tr);
    const button = (label, fn, cls = "") => { const b = document.createElement("button"); b.type = "button"; b.textContent = label; if (cls) b.className = cls; b.addEventListener("click", fn); cell.appendChild(b); };
    button(T["task.open"], () => openTask(t).catch(showError), "open-task");
    if (t.status === "open" && !t.assignee_nip) button(T["task.claim"], () => act(t, "claim"), "secondary");
    if (t.status === "claimed") button(T["task.release"], () => act(t, "release"), "secondary");
    $(".pick", tr).dataset.outcomes = JSON.stringify(t.outcomes);
    $(".pick", tr).addEventListener("change", bulkOutcomes);
    body.appendChild(tr);
  }
  bulkOutcomes();
  if (!tasks.data.length) body.innerHTML = `<tr><td colspan="6">${T["inbox.empty"]}</td></tr>`;
  return tasks.data;
}

function bulkOutcomes() {
  // Only the outcomes every selected task accepts can be chosen for all of them.
  const picked = [...document.querySelectorAll(".pick:checked")].map((c) => JSON.parse(c.dataset.outcomes));
  const common = picked.length ? picked.reduce((a, b) => a.filter((o) => b.includes(o))) : [];
  const sel = $("#bulk-outcome"), keep = sel.value;
  sel.innerHTML = `<option value="">${T["form.choose"]}</option>` + common.map((o) => `<option>${esc(o)}</option>`).join("");
  if (common.includes(keep)) sel.value = keep;
}

async function initInbox() {
  $("#filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadInbox().catch(showError); });
  $("#decide-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const formEl = $("#decide-form");
    clearFieldErrors(formEl);
    let data;
    try { data = collectDecisionData($("#kind-fields")); } catch (e) { showProblems(formEl, $("#result"), e); return; }
    try {
      const r = await api(`/api/v1/tasks/${encodeURIComponent(current.id)}/decision`, {method: "POST",
        body: JSON.stringify({outcome: $("#outcome").value, reason: $("#reason").value, data})});
      announce($("#result"), `✔ ${T["form.decided"]}: ${r.event_type} #${r.position}`, "ok");
      $("#result").focus();
      await loadTimeline(current.case_id); await loadInbox();
    } catch (e) { showProblems(formEl, $("#result"), e); }
  });
  $("#bulk-submit").addEventListener("click", async () => {
    const items = [...document.querySelectorAll(".pick:checked")].map((c) => ({task_id: c.value, outcome: $("#bulk-outcome").value, reason: $("#bulk-reason").value}));
    if (!items.length) return;
    try {
      const r = await api("/api/v1/tasks/decisions", {method: "POST", body: JSON.stringify({items})});
      $("#bulk-results").innerHTML = r.results.map((x) => `<li class="${x.ok ? "ok" : "err"}">${esc(x.task_id)}: ${x.ok ? "✔" : "✘ " + esc(window.LANG === "en" ? x.error.message_en : x.error.message_id)}</li>`).join("");
      await loadInbox();
    } catch (e) { showError(e); }
  });
  const tasks = await loadInbox();
  const wanted = new URLSearchParams(location.search).get("task");  // from a notification's link
  const found = wanted && tasks.find((x) => x.id === wanted);
  if (found) await openTask(found);
}

// --- case page ----------------------------------------------------------------------------------
async function initCase() {
  const id = $("#case-id").textContent.trim();
  const c = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
  const facts = [[T["col.status"], c.status], [T["case.subject"], c.subject_nip], ["Unit", c.unit], [T["case.opened"], when(c.opened_at)], [T["case.closed"], when(c.closed_at)]];
  $("#case-facts").innerHTML = facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${esc(v || "—")}</dd>`).join("");
  await loadTimeline(id);
}

// --- me -------------------------------------------------------------------------------------------
async function initMe(me) {
  $("#eval-year").value = new Date().getFullYear();
  $("#start-evaluation").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api("/api/v1/evaluations", {method: "POST", body: JSON.stringify({nip: me.nip, year: Number($("#eval-year").value)})});
      $("#start-result").innerHTML = `<span class="ok">✔ <a href="/cases/${encodeURIComponent(r.id)}">${esc(r.id)}</a></span>`;
    } catch (e) { $("#start-result").innerHTML = `<span class="err">✘ ${esc(e.message)}</span>`; }
  });
  const cases = await api(`/api/v1/cases?subject_nip=${me.nip}`);
  $("#my-cases").innerHTML = cases.data.map((c) => `<li><a href="/cases/${encodeURIComponent(c.id)}">${esc(c.title || c.id)}</a> · ${esc(c.status)}</li>`).join("") || "<li>—</li>";
  $("#my-predicates").innerHTML = cases.data.filter((c) => c.outcome && c.outcome.predicate)
    .map((c) => `<li>${esc(c.data.year || "")}: <strong>${esc(c.outcome.predicate)}</strong></li>`).join("") || "<li>—</li>";
  try {
    const year = new Date().getFullYear();
    const jp = await api(`/api/v1/trainings/${year}/jp?nip=${me.nip}`);
    const mine = jp.data[0];
    if (mine) {
      $("#my-training").innerHTML = `${year}: <strong>${mine.jp} JP</strong> / ${mine.min_jp} JP` +
        (mine.compliant ? ` <span class="ok">✔</span>` : ` <span class="late">(−${mine.shortfall} JP)</span>`);
    }
  } catch (e) { /* no cycle for this year yet: the page keeps its "no records" text */ }
  try {
    const h = await api(`/api/v1/employees/${me.nip}/history`);
    $("#my-career").innerHTML = h.data.map((e) => `<li>${day(e.occurred_at)} · ${esc(e.type)} · ${esc((e.payload.record || e.payload).jabatan || "")} ${esc((e.payload.record || e.payload).golongan || "")}</li>`).join("");
  } catch (e) { $("#my-career").innerHTML = "<li>—</li>"; }
}

// --- audit ----------------------------------------------------------------------------------------
let after = 0;
function auditParams() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("#audit-filters"))) if (v) params.set(k, k === "from" || k === "to" ? v + "T00:00:00+07:00" : v);
  return params;
}
async function searchEvents(reset) {
  if (reset) { after = 0; $("#events tbody").innerHTML = ""; }
  const params = auditParams(); params.set("after", after); params.set("limit", 100);
  const r = await api("/api/v1/audit/events?" + params);
  $("#events tbody").insertAdjacentHTML("beforeend", r.data.map((e) =>
    `<tr><td>${e.position}</td><td>${when(e.occurred_at)}</td><td>${esc(e.type)}</td><td>${esc(e.actor.nip || T["case.system"])}</td>` +
    `<td><a href="/cases/${encodeURIComponent(e.case_id)}">${esc(e.case_id)}</a></td><td class="${e.hash_valid ? "ok" : "err"}"><code>${esc(e.hash.slice(0, 12))}</code> ${e.hash_valid ? "✔" : "✘"}</td></tr>`).join(""));
  after = r.next_after || after; $("#more").hidden = !r.next_after;
}
async function download(format) {
  const params = auditParams(); params.set("format", format);
  const r = await fetch("/api/v1/audit/export?" + params, {headers: {"Authorization": "Bearer " + token()}});
  if (!r.ok) { showError(new Error((await r.json().catch(() => ({}))).message || r.statusText)); return; }
  const a = document.createElement("a"); a.href = URL.createObjectURL(await r.blob()); a.download = `asnflow-events.${format}`; a.click();
}
async function initAudit() {
  $("#audit-filters").addEventListener("submit", (ev) => { ev.preventDefault(); searchEvents(true).catch(showError); });
  $("#more").addEventListener("click", () => searchEvents(false).catch(showError));
  $("#verify").addEventListener("click", async () => {
    try { const v = await api("/api/v1/audit/verify"); $("#verify-result").innerHTML = v.ok ? `<span class="ok">✔ ${v.cases_checked} / ${v.events_checked}</span>` : `<span class="err">✘ ${esc(JSON.stringify(v.problems.slice(0, 3)))}</span>`; }
    catch (e) { showError(e); }
  });
  $("#export-jsonl").addEventListener("click", () => download("jsonl"));
  $("#export-csv").addEventListener("click", () => download("csv"));
  await searchEvents(true);
}

// --- dashboards: small SVG bar charts, no library --------------------------------------------------
function bars(el, rows, label, series) {
  const w = 640, bh = 22, gap = 8, left = 180, h = rows.length * (bh + gap) + 10;
  const max = Math.max(1, ...rows.map((r) => series.reduce((s, x) => s + r[x.key], 0)));
  let svg = `<svg viewBox="0 0 ${w} ${h}" role="img" aria-label="${esc(label)}">`;
  rows.forEach((r, i) => {
    const y = 5 + i * (bh + gap); let x = left;
    svg += `<text x="${left - 6}" y="${y + 15}" text-anchor="end" font-size="12">${esc(r.label)}</text>`;
    for (const s of series) {
      const bw = (r[s.key] / max) * (w - left - 40);
      if (bw > 0) svg += `<rect x="${x}" y="${y}" width="${bw}" height="${bh}" fill="${s.color}"><title>${esc(s.name)}: ${r[s.key]}</title></rect>`;
      x += bw;
    }
    svg += `<text x="${x + 4}" y="${y + 15}" font-size="12">${series.map((s) => r[s.key]).join(" / ")}</text>`;
  });
  el.innerHTML = svg + "</svg>";
}
async function section(el, load) {
  try { await load(); } catch (e) { el.innerHTML = `<p class="hint">${esc(e.status === 404 ? T["dash.none"] : e.message)}</p>`; }
}

const PREDICATES = [["SANGAT_BAIK", "#1d6b1d"], ["BAIK", "#4f8f3a"], ["BUTUH_PERBAIKAN", "#c9a227"], ["KURANG", "#d2691e"], ["SANGAT_KURANG", "#a40000"]];

async function initDashboards() {
  const year = Number($("#year").value || new Date().getFullYear()); $("#year").value = year;
  $("#dash-year").onsubmit = (ev) => { ev.preventDefault(); initDashboards(); };
  await section($("#chart-waiting"), async () => {
    const waiting = await api("/api/v1/stats/waiting");
    const rows = waiting.data.map((r) => ({label: `${r.unit} · ${r.process}`, late: r.overdue, ontime: r.open - r.overdue}));
    if (!rows.length) throw Object.assign(new Error(""), {status: 404});
    bars($("#chart-waiting"), rows, T["dash.waiting"], [{key: "late", name: T["dash.overdue"], color: "#a40000"}, {key: "ontime", name: T["dash.open"], color: "#0b4f6c"}]);
    $("#waiting tbody").innerHTML = waiting.data.map((r) => `<tr><td>${esc(r.unit)}</td><td>${esc(r.process)}</td><td>${r.open}</td><td class="${r.overdue ? "late" : ""}">${r.overdue}</td><td>${day(r.oldest)}</td></tr>`).join("");
  });
  await section($("#chart-predicates"), async () => {
    const d = await api(`/api/v1/evaluations/distribution?year=${year}`);
    if (!d.data.length) throw Object.assign(new Error(""), {status: 404});
    bars($("#chart-predicates"), d.data.map((r) => ({label: `${r.unit}${r.within_quota ? "" : " ✘"}`, ...Object.fromEntries(PREDICATES.map(([p]) => [p, (r.counts || {})[p] || 0]))})),
      T["dash.predicates"], PREDICATES.map(([p, color]) => ({key: p, name: p, color})));
  });
  await section($("#chart-training"), async () => {
    const d = await api(`/api/v1/trainings/${year}/jp/units`);
    if (!d.data.length) throw Object.assign(new Error(""), {status: 404});
    bars($("#chart-training"), d.data.map((r) => ({label: `${r.unit} (${r.compliance_pct}%)`, ok: r.compliant, short: r.employees - r.compliant})),
      T["dash.training"], [{key: "ok", name: `≥ ${d.min_jp} JP`, color: "#1d6b1d"}, {key: "short", name: `< ${d.min_jp} JP`, color: "#a40000"}]);
  });
  await section($("#chart-promotion"), async () => {
    const d = await api("/api/v1/promotions/pipeline");
    if (!d.by_period_and_stage.length) throw Object.assign(new Error(""), {status: 404});
    bars($("#chart-promotion"), d.by_period_and_stage.map((r) => ({label: `${r.period || "-"} · ${r.stage}`, n: r.n})), T["dash.promotion"], [{key: "n", name: "n", color: "#0b4f6c"}]);
  });
  await section($("#chart-complaints"), async () => {
    const d = await api(`/api/v1/complaints/metrics?year=${year}`);
    const rows = (d.data || d.units || []).map((r) => ({label: r.unit, within: Math.round(100 * (r.share_within_service_levels ?? r.within ?? 0)), rest: 100 - Math.round(100 * (r.share_within_service_levels ?? r.within ?? 0))}));
    if (!rows.length) throw Object.assign(new Error(""), {status: 404});
    bars($("#chart-complaints"), rows, T["dash.complaints"], [{key: "within", name: "%", color: "#1d6b1d"}, {key: "rest", name: "%", color: "#d4d7dc"}]);
  });
  await section($("#chart-cases"), async () => {
    const cases = await api("/api/v1/stats/cases");
    bars($("#chart-cases"), cases.data.map((r) => ({label: `${r.process} · ${r.status}`, n: r.count})), T["dash.processes"], [{key: "n", name: "n", color: "#0b4f6c"}]);
  });
}

// --- decision forms: drawn from the API's description of each task kind (GET /api/v1/decision-forms) ----------
// The workflow validates a decision against the same description, so the page asks exactly what is checked.
let formsByKind = null;
let fieldSeq = 0;
const L = (label) => label ? (label[window.LANG] || label.id) : "";

async function decisionForm(kind) {
  if (!formsByKind) {
    const all = await api("/api/v1/decision-forms");
    formsByKind = Object.fromEntries(all.data.map((f) => [f.kind, f]));
  }
  return formsByKind[kind] || null;
}

function announce(el, text, cls = "") {
  el.className = cls; el.textContent = "";
  // A fresh text node after clearing makes screen readers announce a repeated message too.
  setTimeout(() => { el.textContent = text; }, 30);
}

function fieldBox(f, path, control) {
  // One labelled control with its help and its error slot (aria-describedby points at both).
  const id = `fld-${++fieldSeq}`;
  const box = document.createElement("div"); box.className = "field"; box.dataset.when = (f.when || []).join(" ");
  const req = f.required ? ` <span class="req">(${T["form.required"]})</span>` : "";
  box.innerHTML = `<label for="${id}">${esc(L(f.label))}${req}</label>`;
  control.id = id; control.dataset.path = path; control.dataset.type = f.type;
  if (f.required) control.setAttribute("aria-required", "true");
  const described = [];
  box.appendChild(control);
  if (f.help) { const h = document.createElement("small"); h.className = "hint"; h.id = id + "-help"; h.textContent = L(f.help); box.appendChild(h); described.push(h.id); }
  const err = document.createElement("span"); err.className = "field-err"; err.id = id + "-err"; err.dataset.errFor = path; box.appendChild(err); described.push(err.id);
  control.setAttribute("aria-describedby", described.join(" "));
  return box;
}

function scalarControl(f) {
  let el;
  if (f.type === "select" || f.type === "boolean") {
    el = document.createElement("select");
    const opts = f.type === "boolean"
      ? [{value: true, label: {id: "Ya", en: "Yes"}}, {value: false, label: {id: "Tidak", en: "No"}}]
      : f.options || [];
    el.innerHTML = `<option value="">${T["form.choose"]}</option>` +
      opts.map((o, i) => `<option value="${i}">${esc(typeof o.value === "string" && L(o.label) !== o.value ? `${L(o.label)} (${o.value})` : L(o.label))}</option>`).join("");
    el._options = opts;  // option values may be booleans: the index maps back to the JSON value
  } else if (f.type === "textarea") {
    el = document.createElement("textarea"); el.rows = 3; el.cols = 48;
  } else {
    el = document.createElement("input");
    el.type = {number: "number", date: "date"}[f.type] || "text";
    if (f.type === "number") { if (f.minimum != null) el.min = f.minimum; if (f.maximum != null) el.max = f.maximum; el.step = f.integer ? "1" : "any"; el.inputMode = f.integer ? "numeric" : "decimal"; }
    if (f.type === "sha256") { el.size = 66; el.spellcheck = false; el.autocomplete = "off"; }
  }
  if (f.max_length) el.maxLength = f.max_length;
  return el;
}

function scalarValue(el) {
  if (el._options) return el.value === "" ? undefined : el._options[Number(el.value)].value;
  const v = el.value.trim();
  if (v === "") return undefined;
  if (el.dataset.type === "number") return Number(v);
  return el.tagName === "TEXTAREA" ? el.value : v;
}

function caseFacts(events) {
  // The latest value of every payload key in the case's history (e.g. the dossier's required documents).
  const facts = {};
  for (const e of events) Object.assign(facts, e.payload || {});
  return facts;
}

function renderField(f, path, facts = {}) {
  if (f.type === "list" || f.type === "map") return repeater(f, path, facts);
  if (f.type === "object") {
    const fs = document.createElement("fieldset"); fs.dataset.path = path; fs.dataset.when = (f.when || []).join(" "); fs.className = "group";
    fs.innerHTML = `<legend>${esc(L(f.label))}</legend>`;
    for (const sub of f.items) fs.appendChild(renderField(sub, `${path}.${sub.name}`));
    fs._collect = () => collectFields(fs, f.items, path);
    return fs;
  }
  return fieldBox(f, path, scalarControl(f));
}

function repeater(f, path, facts = {}) {
  // A list (of objects or texts) or a map (key → value): rows that can be added and removed.
  const fs = document.createElement("fieldset"); fs.className = "group"; fs.dataset.path = path; fs.dataset.when = (f.when || []).join(" ");
  const req = f.required ? ` <span class="req">(${T["form.required"]})</span>` : "";
  fs.innerHTML = `<legend>${esc(L(f.label))}${req}</legend>` + (f.help ? `<p class="hint">${esc(L(f.help))}</p>` : "") + `<div class="rows"></div>`;
  const err = document.createElement("span"); err.className = "field-err"; err.dataset.errFor = path; err.id = `fld-${++fieldSeq}-err`; fs.appendChild(err);
  const rows = $(".rows", fs);
  const add = document.createElement("button"); add.type = "button"; add.className = "secondary"; add.textContent = `${T["form.add"]}: ${L(f.label)}`;
  const itemFields = f.type === "map" ? [f.key, f.items[0]] : (f.items && f.items.length ? f.items : [{name: "", type: f.item_type || "text", label: f.label, required: true, max_length: f.max_length}]);
  const addRow = () => {
    const i = rows.children.length;
    const row = document.createElement("div"); row.className = "row item"; row.setAttribute("role", "group");
    row.setAttribute("aria-label", `${L(f.label)} ${i + 1}`);
    row.dataset.index = i;
    for (const sub of itemFields) {
      const subPath = f.type === "map" ? `${path}.${sub === f.key ? "@key" : "@value"}` : `${path}[${i}]${sub.name ? "." + sub.name : ""}`;
      const box = renderField({...sub, label: {id: `${L(sub.label)} ${i + 1}`, en: `${L(sub.label)} ${i + 1}`}, when: []}, subPath);
      row.appendChild(box);
    }
    const rm = document.createElement("button"); rm.type = "button"; rm.className = "secondary remove"; rm.textContent = `${T["form.remove"]} ${i + 1}`;
    rm.addEventListener("click", () => { row.remove(); renumber(); add.focus(); });
    row.appendChild(rm);
    rows.appendChild(row);
    return row;
  };
  const renumber = () => [...rows.children].forEach((row, k) => {
    // After a removal the rows count 1..n again, and their paths match the indexes the API will name.
    row.setAttribute("aria-label", `${L(f.label)} ${k + 1}`);
    $(":scope > .remove", row).textContent = `${T["form.remove"]} ${k + 1}`;
    for (const label of row.querySelectorAll(":scope > .field > label")) label.firstChild.textContent = label.firstChild.textContent.replace(/\d+(\s*)$/, `${k + 1}$1`);
    for (const el of row.querySelectorAll(":scope > .field > [data-path], :scope > .field > [data-err-for]")) {
      for (const key of ["path", "errFor"]) {
        const v = el.dataset[key];
        if (v && v.startsWith(path + "[")) el.dataset[key] = `${path}[${k}]${v.slice(v.indexOf("]", path.length) + 1)}`;
      }
    }
  });
  add.addEventListener("click", () => { const row = addRow(); const first = row.querySelector("input, select, textarea"); if (first) first.focus(); });
  fs.appendChild(add);
  const given = f.prefill && Array.isArray(facts[f.prefill]) ? facts[f.prefill] : [];
  for (const value of given) {
    // One row per value, its first control set to it (a select by the option carrying that value).
    const first = addRow().querySelector("[data-path]");
    if (first._options) first.value = String(first._options.findIndex((o) => o.value === value));
    else first.value = value;
  }
  if (f.required && !given.length) addRow();
  fs._collect = () => {
    const out = [...rows.children].map((row) => {
      const controls = [...row.querySelectorAll(":scope > .field > [data-path], :scope > fieldset")];
      const values = itemFields.map((sub, k) => controls[k]._collect ? controls[k]._collect() : scalarValue(controls[k]));
      return values;
    });
    if (f.type === "map") {
      const m = {};
      for (const [k, v] of out) if (k !== undefined) m[k] = v;
      return Object.keys(m).length ? m : undefined;
    }
    const items = out.map((values) => {
      if (!itemFields[0].name) return values[0];
      const o = {};
      itemFields.forEach((sub, k) => { if (values[k] !== undefined) o[sub.name] = values[k]; });
      return o;
    }).filter((x) => x !== undefined && !(typeof x === "object" && !Object.keys(x).length));
    return items.length ? items : undefined;
  };
  return fs;
}

function collectFields(root, fields, prefix) {
  const out = {};
  const boxes = [...root.querySelectorAll(":scope > .field, :scope > fieldset")];
  fields.forEach((f, k) => {
    const box = boxes[k];
    if (!box || box.hidden) return;
    const v = box._collect ? box._collect() : scalarValue(box.querySelector("[data-path]"));
    if (v !== undefined) out[f.name] = v;
  });
  return prefix && !Object.keys(out).length ? undefined : out;
}

function renderDecisionForm(container, form, outcome, facts = {}) {
  container.innerHTML = "";
  if (!form) {
    // A kind without a described form (e.g. a process still being built): its data as JSON.
    container.appendChild(fieldBox({label: {id: T["decide.data"], en: T["decide.data"]}, type: "json"}, "data", Object.assign(document.createElement("textarea"), {rows: 3, cols: 48, value: "{}"})));
    container._collect = () => JSON.parse($("[data-path='data']", container).value || "{}");
    return;
  }
  for (const f of form.fields) container.appendChild(renderField(f, f.name, facts));
  const sync = () => {
    // Fields asked only for some outcomes are hidden (and not sent) for the others.
    for (const box of container.querySelectorAll(":scope > [data-when]")) box.hidden = !!box.dataset.when && !box.dataset.when.split(" ").includes(outcome());
  };
  $("#outcome").onchange = sync; sync();
  container._collect = () => collectFields(container, form.fields, "");
}

function collectDecisionData(container) {
  try { return container._collect ? container._collect() : {}; }
  catch (e) { throw Object.assign(new Error(e.message), {body: {problems: [{field: "data", id: e.message, en: e.message}]}}); }
}

function clearFieldErrors(root) {
  for (const el of root.querySelectorAll(".field-err")) el.textContent = "";
  for (const el of root.querySelectorAll("[aria-invalid]")) el.removeAttribute("aria-invalid");
}

function errorSlot(root, field) {
  // API paths look like "targets[0].indikator", "documents.0.sha256", "data.unit" or "budgets.DISKOMINFO":
  // the nearest described field (or its list) gets the message.
  let path = String(field || "").replace(/^data\./, "").replace(/\.(\d+)(?=\.|$)/g, "[$1]");
  while (path) {
    const slot = root.querySelector(`[data-err-for="${CSS.escape(path)}"]`);
    if (slot) return slot;
    const cut = Math.max(path.lastIndexOf("."), path.lastIndexOf("["));
    path = cut > 0 ? path.slice(0, cut) : "";
  }
  return null;
}

function showProblems(root, resultEl, e) {
  const problems = (e.body && e.body.problems) || [];
  let first = null;
  const general = [];
  for (const p of problems) {
    const text = window.LANG === "en" ? p.en : p.id;
    const slot = errorSlot(root, p.field);
    if (!slot) { general.push(text); continue; }
    // The page's language first, the other beside it (the API always gives both).
    const other = window.LANG === "en" ? ["id", p.id] : ["en", p.en];
    slot.insertAdjacentHTML("beforeend", `${slot.textContent ? "; " : ""}${esc(text)}` +
      (other[1] && other[1] !== text ? ` <span class="alt" lang="${other[0]}">/ ${esc(other[1])}</span>` : ""));
    const control = root.querySelector(`[aria-describedby~="${CSS.escape(slot.id)}"]`) || slot.closest("fieldset");
    if (control) { control.setAttribute("aria-invalid", "true"); first = first || control; }
  }
  const message = e.body && (window.LANG === "en" ? e.body.message_en : e.body.message_id) || e.message;
  announce(resultEl, `✘ ${message}${general.length ? ": " + general.join("; ") : ""}${first ? " — " + T["form.fix"] : ""}`, "err");
  const target = first && (first.matches("fieldset") ? first.querySelector("input, select, textarea, button") : first);
  (target || resultEl).focus();
}

// --- header: unread notifications ---------------------------------------------------------------
async function refreshUnread() {
  const badge = $("#notif-count");
  if (!badge) return;
  try {
    const n = await api("/api/v1/notifications?limit=1");
    badge.hidden = !n.unread;
    badge.innerHTML = `${n.unread}<span class="sr-only"> ${T["notif.unread_count"]}</span>`;
  } catch (e) { badge.hidden = true; }
}

// --- notifications page --------------------------------------------------------------------------
function notificationHref(n) {
  if (n.task_id) return `/?task=${encodeURIComponent(n.task_id)}`;
  if (n.kind === "delegation") return "/delegations";
  return `/cases/${encodeURIComponent(n.case_id)}`;
}

async function loadNotifications() {
  const unread = $("#notif-unread").value;
  const r = await api("/api/v1/notifications?limit=100" + (unread ? "&unread=true" : ""));
  const list = $("#notif-list");
  list.innerHTML = r.data.map((n) => `<li class="card ${n.read ? "" : "unread"}" data-id="${esc(n.id)}">
      <span class="tag">${n.read ? T["notif.read"] : T["notif.unread"]}</span>
      <a href="${esc(notificationHref(n))}">${esc(n.title)}</a>
      <small>${esc(n.kind)} · ${when(n.created_at)}${n.on_behalf_of ? ` · ${T["notif.on_behalf"]} ${esc(n.on_behalf_of)}` : ""}</small>
      ${n.read ? "" : `<button type="button" class="secondary mark-read" data-id="${esc(n.id)}" aria-label="${T["notif.mark_read"]}: ${esc(n.title)}">${T["notif.mark_read"]}</button>`}
    </li>`).join("") || `<li>${T["notif.empty"]}</li>`;
  for (const b of list.querySelectorAll(".mark-read")) {
    b.addEventListener("click", async () => {
      const item = b.closest("li"); const next = item.nextElementSibling;
      try {
        await api(`/api/v1/notifications/${encodeURIComponent(b.dataset.id)}/read`, {method: "POST", body: "{}"});
        announce($("#notif-status"), `${T["notif.marked"]}: ${$("a", item).textContent}`);
        await loadNotifications(); await refreshUnread();
        // Focus moves on to the next notification still to be read, else to the list's heading.
        const again = next && $(`#notif-list li[data-id="${CSS.escape(next.dataset.id)}"] .mark-read, #notif-list li[data-id="${CSS.escape(next.dataset.id)}"] a`);
        (again || $("h1")).focus();
      } catch (e) { showError(e); }
    });
  }
  return r;
}

async function initNotifications() {
  $("h1").tabIndex = -1;
  $("#notif-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadNotifications().catch(showError); });
  $("#notif-read-all").addEventListener("click", async () => {
    try {
      const r = await api("/api/v1/notifications/read-all", {method: "POST", body: "{}"});
      announce($("#notif-status"), `${r.marked} ${T["notif.marked"]}`);
      await loadNotifications(); await refreshUnread();
    } catch (e) { showError(e); }
  });
  await loadNotifications();
}

// --- delegations page ----------------------------------------------------------------------------
const localInput = (d) => new Date(d.getTime() - d.getTimezoneOffset() * 60000).toISOString().slice(0, 16);

async function loadDelegations(me, waitFor = null) {
  const state = new FormData($("#deleg-filters")).get("status") || "current";
  let r;
  for (let i = 0; i < 40; i++) {  // a new delegation reaches the view a moment after it is accepted
    r = await api(`/api/v1/delegations?status=${state}`);
    if (!waitFor || r.data.some(waitFor)) break;
    await new Promise((ok) => setTimeout(ok, 250));
  }
  const body = $("#delegations tbody"); body.innerHTML = "";
  for (const d of r.data) {
    const tr = document.createElement("tr"); tr.dataset.id = d.id;
    tr.innerHTML = `<td>${esc(d.type)}</td><td>${esc(d.principal_nip)}</td><td>${esc(d.acting_nip)}</td>` +
      `<td>${when(d.starts_at)} – ${when(d.ends_at)}${d.processes.length ? `<br><small>${esc(d.processes.join(", "))}</small>` : ""}</td>` +
      `<td>${esc(d.status)}${d.end_reason ? `<br><small>${esc(d.end_reason)}</small>` : ""}</td><td class="actions"></td>`;
    const mayEnd = ["scheduled", "active"].includes(d.status) &&
      (me.roles.some((x) => ["BKPSDM", "ADMIN"].includes(x)) || [d.principal_nip, d.granted_by].includes(me.nip));
    if (mayEnd) {
      const b = document.createElement("button"); b.type = "button"; b.className = "secondary revoke";
      b.textContent = T["deleg.revoke"]; b.setAttribute("aria-label", `${T["deleg.revoke"]}: ${d.type} ${d.acting_nip}`);
      b.addEventListener("click", () => {
        $("#revoke-panel").hidden = false; $("#revoke-id").textContent = d.id; $("#revoke-form").dataset.id = d.id;
        clearFieldErrors($("#revoke-form")); $("#revoke-reason").value = ""; $("#revoke-reason").focus();
      });
      $(".actions", tr).appendChild(b);
    }
    body.appendChild(tr);
  }
  if (!r.data.length) body.innerHTML = `<tr><td colspan="6">${T["deleg.none"]}</td></tr>`;
}

async function initDelegations(me) {
  const now = new Date();
  $("#deleg-principal_nip").value = me.nip;
  $("#deleg-starts_at").value = localInput(now);
  $("#deleg-ends_at").value = localInput(new Date(now.getTime() + 7 * 24 * 3600 * 1000));
  for (const el of $("#deleg-form").querySelectorAll("[name]")) el.dataset.path = el.name;
  for (const el of $("#deleg-form").querySelectorAll(".field-err")) el.dataset.errFor = el.id.replace(/^deleg-/, "").replace(/-err$/, "");
  $("#deleg-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = $("#deleg-form"); clearFieldErrors(f);
    const v = (name) => f.elements[name].value.trim();
    const iso = (name) => v(name) ? new Date(v(name)).toISOString() : "";
    const body = {type: v("type"), principal_nip: v("principal_nip"), acting_nip: v("acting_nip"), starts_at: iso("starts_at"), ends_at: iso("ends_at"),
      processes: [...f.querySelectorAll("[name=processes]:checked")].map((c) => c.value), legal_basis: v("legal_basis"), reason: v("reason")};
    try {
      const r = await api("/api/v1/delegations", {method: "POST", body: JSON.stringify(body)});
      announce($("#deleg-result"), `✔ ${T["deleg.granted"]}: ${r.id}`, "ok");
      await loadDelegations(me, (d) => d.id === r.id);
      $("#deleg-result").tabIndex = -1; $("#deleg-result").focus();
    } catch (e) { showProblems(f, $("#deleg-result"), e); }
  });
  $("#deleg-filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadDelegations(me).catch(showError); });
  $("#revoke-cancel").addEventListener("click", () => { $("#revoke-panel").hidden = true; $("#deleg-list-h").tabIndex = -1; $("#deleg-list-h").focus(); });
  $("#revoke-reason").dataset.path = "reason"; $("#revoke-reason-err").dataset.errFor = "reason";
  $("#revoke-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    const f = $("#revoke-form"); clearFieldErrors(f);
    const id = f.dataset.id;
    if (!$("#revoke-reason").value.trim()) {
      showProblems(f, $("#deleg-result"), {message: "", body: {message_id: "Alasan wajib diisi.", message_en: "A reason is required.",
        problems: [{field: "reason", id: "Alasan wajib diisi.", en: "A reason is required."}]}});
      return;
    }
    try {
      const d = await api(`/api/v1/delegations/${encodeURIComponent(id)}/revoke`, {method: "POST", body: JSON.stringify({reason: $("#revoke-reason").value.trim()})});
      $("#revoke-panel").hidden = true;
      announce($("#deleg-result"), `✔ ${T["deleg.revoked"]}: ${d.id} (${d.status})`, "ok");
      await loadDelegations(me);
      $("#deleg-result").tabIndex = -1; $("#deleg-result").focus();
    } catch (e) { showProblems(f, $("#deleg-result"), e); }
  });
  await loadDelegations(me);
}

(async () => {
  const me = await setupAuth();
  if (!me) return;
  const page = document.body.dataset.page;
  refreshUnread();
  try {
    if (page === "inbox") await initInbox();
    else if (page === "case") await initCase();
    else if (page === "me") await initMe(me);
    else if (page === "audit") await initAudit();
    else if (page === "dashboards") await initDashboards();
    else if (page === "notifications") await initNotifications();
    else if (page === "delegations") await initDelegations(me);
  } catch (e) { showError(e); }
})();

// === Complaints: the staff desk and complaint evidence beside a rating (a separate block) =================
// Kept apart from the inbox/case code above: it only reads `current`, `api`, `esc`, `when` and `showError`.
const cqBoth = (label) => label ? `${esc(label.id)} <span lang="en">/ ${esc(label.en)}</span>` : "—";
const CQ_STAGES = {
  verification: {id: "Menunggu verifikasi", en: "Awaiting verification"}, postponed: {id: "Ditunda", en: "Postponed"},
  follow_up: {id: "Diteruskan ke OPD", en: "Routed to the agency"}, awaiting_reply: {id: "Menunggu tanggapan pelapor", en: "Awaiting the reporter"},
  closed: {id: "Selesai", en: "Closed"},
};
let cqCurrent = null;

async function cqDownload(sha, name) {
  // The download needs the bearer token, so it is fetched here and handed to the browser as a file.
  const r = await fetch(`/api/v1/documents/${sha}`, {headers: {"Authorization": "Bearer " + token(), "Accept-Language": window.LANG}});
  if (!r.ok) { const b = await r.json().catch(() => ({})); throw new Error(b.message || r.statusText); }
  const url = URL.createObjectURL(await r.blob());
  const a = document.createElement("a"); a.href = url; a.download = name || sha; document.body.appendChild(a); a.click(); a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 10000);
}

function cqBreaches(row) {
  return (row.breaches || []).map((b) => `<span class="late">⚠ ${esc(b.level)} (${when(b.due_at)})</span>`).join("<br>") || "—";
}

async function cqLoadQueue() {
  const params = new URLSearchParams();
  for (const [k, v] of new FormData($("#cq-filters"))) if (v) params.set(k, v);
  const list = await api("/api/v1/complaints/manage?" + params);
  const body = $("#cq-table tbody"); body.innerHTML = "";
  for (const row of list.data) {
    const tr = document.createElement("tr"); tr.dataset.case = row.case_id;
    const due = row.due || {};
    const next = due.verification || due.follow_up || due.resolution;
    const who = row.identity_visible ? (row.identity ? esc(row.identity.name) : (row.anonymous ? "anonim / anonymous" : "—")) : "<em>tersembunyi / hidden</em>";
    tr.innerHTML = `<td>${when(row.filed_at)}</td><td>${esc(row.kind)} · ${esc(row.unit)}</td><td>${cqBoth(CQ_STAGES[row.stage])}</td>` +
      `<td>${next ? when(next) : "—"}</td><td>${cqBreaches(row)}</td><td>${who}</td><td></td>`;
    const b = document.createElement("button"); b.type = "button"; b.className = "secondary"; b.textContent = "Buka / Open";
    b.addEventListener("click", () => cqOpen(row.case_id).catch(showError));
    tr.lastElementChild.appendChild(b);
    body.appendChild(tr);
  }
  if (!list.data.length) body.innerHTML = `<tr><td colspan="7">Tidak ada laporan. <span lang="en">No reports.</span></td></tr>`;
}

async function cqOpen(caseId) {
  const row = await api(`/api/v1/complaints/manage/${encodeURIComponent(caseId)}`);
  $("#cq-detail").hidden = false; $("#cq-case").textContent = row.case_id;
  const identity = row.identity_visible
    ? (row.identity ? `${esc(row.identity.name)}${row.identity.contact ? " · " + esc(row.identity.contact) : ""}` : (row.anonymous ? "anonim / anonymous" : "—"))
    : "tersembunyi (hanya pengelola pengaduan) / hidden (complaint managers only)";
  const facts = [["Jenis / Kind", esc(row.kind)], ["OPD / Agency", esc(row.unit)], ["Tahap / Stage", cqBoth(CQ_STAGES[row.stage])],
    ["Pelapor / Reporter", identity], ["ASN", esc(row.asn_nip || "—")], ["Rahasia / Confidential", row.confidential ? "ya / yes" : "tidak / no"],
    ["Batas verifikasi / Verify by", when((row.due || {}).verification)], ["Batas tindak lanjut / Follow up by", when((row.due || {}).follow_up)],
    ["Batas penyelesaian / Resolve by", when((row.due || {}).resolution)], ["Pelanggaran / Breaches", cqBreaches(row)],
    ["Eskalasi Inspektorat / Escalated", row.escalated ? '<span class="late">ya / yes</span>' : "tidak / no"]];
  $("#cq-facts").innerHTML = facts.map(([k, v]) => `<dt>${esc(k)}</dt><dd>${v || "—"}</dd>`).join("");
  $("#cq-description").textContent = row.description;
  const files = $("#cq-attachments"); files.innerHTML = "";
  for (const a of row.attachments || []) {
    const li = document.createElement("li"); const b = document.createElement("button"); b.type = "button"; b.className = "secondary";
    b.textContent = `${a.name} (${Math.ceil((a.size || 0) / 1024)} KB, ${a.media_type || "?"})`;
    b.addEventListener("click", () => cqDownload(a.sha256, a.name).catch(showError));
    li.appendChild(b); li.insertAdjacentHTML("beforeend", ` <code>${esc(a.sha256)}</code>`); files.appendChild(li);
  }
  if (!(row.attachments || []).length) files.innerHTML = "<li>—</li>";
  const history = [...(row.follow_ups || []).map((f) => ({at: f.at || f.posted_at, text: `Tindak lanjut / Follow-up ${f.round || ""}: ${f.text}`})),
    ...(row.responses || []).map((r) => ({at: r.at, text: `Pelapor / Reporter${r.satisfied ? " ✔" : ""}: ${r.message}`}))];
  $("#cq-history").innerHTML = history.map((h) => `<li>${when(h.at)} — ${esc(h.text)}</li>`).join("") || "<li>—</li>";
  await cqLoadTask(caseId);
  $("#cq-detail-title").scrollIntoView();
}

async function cqLoadTask(caseId) {
  const tasks = await api(`/api/v1/tasks?case_id=${encodeURIComponent(caseId)}`);
  const t = tasks.data.find((x) => ["COMPLAINT_VERIFICATION", "COMPLAINT_FOLLOW_UP"].includes(x.kind) && ["open", "claimed"].includes(x.status));
  cqCurrent = t || null;
  $("#cq-task").hidden = !t; $("#cq-verify").hidden = !t || t.kind !== "COMPLAINT_VERIFICATION"; $("#cq-follow").hidden = !t || t.kind !== "COMPLAINT_FOLLOW_UP";
  $("#cq-result").textContent = "";
  if (!t) return;
  $("#cq-task-title").textContent = `${t.title} — ${when(t.due_at)}`;
  $("#cq-claim").hidden = !(t.status === "open" && !t.assignee_nip);
  if (t.kind === "COMPLAINT_VERIFICATION") $("#cq-route-unit").value = t.unit || $("#cq-route-unit").value;
}

async function cqDecide(outcome, reason, data) {
  try {
    const r = await api(`/api/v1/tasks/${encodeURIComponent(cqCurrent.id)}/decision`, {method: "POST", body: JSON.stringify({outcome, reason, data})});
    $("#cq-result").innerHTML = `<span class="ok">✔ ${esc(r.event_type)} #${r.position}</span>`;
    await cqLoadQueue();
  } catch (e) {
    const detail = (e.body && e.body.problems || []).map((p) => `${p.id} / ${p.en}`).join("; ");
    $("#cq-result").innerHTML = `<span class="err" role="alert">✘ ${esc(e.body ? e.body.message_id + " / " + e.body.message_en : e.message)}${detail ? ": " + esc(detail) : ""}</span>`;
  }
}

async function cqInit() {
  $("#cq-filters").addEventListener("submit", (ev) => { ev.preventDefault(); cqLoadQueue().catch(showError); });
  $("#cq-claim").addEventListener("click", async () => {
    // The claim is acknowledged by the workflow, but the tasks view may not show it yet: reloading the task
    // here could read it as still open, and would wipe a decision's result written meanwhile.
    try {
      const claimed = cqCurrent;
      await api(`/api/v1/tasks/${encodeURIComponent(claimed.id)}/claim`, {method: "POST", body: "{}"});
      claimed.status = "claimed";
      if (cqCurrent === claimed) { $("#cq-claim").hidden = true; if (!$("#cq-result").textContent) $("#cq-result").textContent = `${T["form.claimed"]}: ${claimed.title}`; }
    } catch (e) { showError(e); }
  });
  $("#cq-verify").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const outcome = $("#cq-verify-outcome").value;
    const data = outcome === "VERIFIED" ? {unit: $("#cq-route-unit").value, asn_confirmed: $("#cq-asn-confirmed").checked} : {};
    cqDecide(outcome, $("#cq-verify-reason").value.trim(), data);
  });
  $("#cq-follow").addEventListener("submit", (ev) => {
    ev.preventDefault();
    cqDecide($("#cq-follow-outcome").value, "", {text: $("#cq-follow-text").value.trim()});
  });
  await cqLoadQueue();
}

function cqEvidenceSection(rows, year) {
  const section = document.createElement("section"); section.id = "cq-evidence"; section.setAttribute("aria-labelledby", "cq-evidence-title");
  const items = rows.map((e) => `<li><strong>${esc(e.kind)} · ${esc(e.unit)}</strong> — ${when(e.verified_at)}<br>${esc(e.description)}` +
    `${(e.follow_ups || []).map((f) => `<br><em>Tindak lanjut / Follow-up:</em> ${esc(f.text)}`).join("")}` +
    `<br><em>Tanggapan ASN / The employee's response:</em> ${e.asn_response ? esc(e.asn_response) : "belum ada / none yet"}</li>`).join("");
  section.innerHTML = `<h3 id="cq-evidence-title">Pengaduan masyarakat terverifikasi${year ? " " + esc(year) : ""} <span lang="en">Verified public complaints</span></h3>` +
    `<p class="hint">Bahan pertimbangan penilaian perilaku kerja; identitas pelapor tidak pernah ditampilkan. <span lang="en">Material for the work-behaviour rating; reporters are never shown.</span></p>` +
    (items ? `<ul>${items}</ul>` : "<p>Tidak ada. <span lang=\"en\">None.</span></p>");
  return section;
}

function cqWatchRatingTask() {
  // When the inbox opens a RATING task, show the complaint evidence from the task's context under its title.
  const title = $("#decide-task");
  if (!title) return;
  new MutationObserver(async () => {
    const old = $("#cq-evidence"); if (old) old.remove();
    if (typeof current === "undefined" || !current || current.kind !== "RATING") return;
    try {
      const t = await api(`/api/v1/tasks/${encodeURIComponent(current.id)}`);
      const rows = (t.context && t.context.complaint_evidence) || [];
      if ($("#cq-evidence")) $("#cq-evidence").remove();
      // After the heading that holds the task's title, not inside it.
      (title.closest("h1, h2, h3, legend") || title).after(cqEvidenceSection(rows, null));
    } catch (e) { showError(e); }
  }).observe(title, {childList: true, characterData: true, subtree: true});
}

async function cqCaseEvidence() {
  // On an evaluation's case page: the complaints about its subject that were verified in the rated year.
  const id = $("#case-id").textContent.trim();
  const c = await api(`/api/v1/cases/${encodeURIComponent(id)}`);
  if (c.process !== "evaluation" || !c.subject_nip) return;
  let rows;
  try { rows = (await api(`/api/v1/complaints/evidence?nip=${encodeURIComponent(c.subject_nip)}`)).data; }
  catch (e) { if (e.status === 403) return; throw e; }
  const year = (c.data || {}).year;
  rows = rows.filter((e) => !year || (e.verified_at && new Date(e.verified_at).getFullYear() >= Number(year)));
  $("#case-facts").after(cqEvidenceSection(rows, year));
}

(async () => {
  const page = document.body.dataset.page;
  if (!token()) return;
  try {
    if (page === "complaint_staff") await cqInit();
    else if (page === "inbox") cqWatchRatingTask();
    else if (page === "case") await cqCaseEvidence();
  } catch (e) { showError(e); }
})();
