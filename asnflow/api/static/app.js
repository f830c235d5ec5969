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
const RATINGS = ["DI_ATAS_EKSPEKTASI", "SESUAI_EKSPEKTASI", "DI_BAWAH_EKSPEKTASI"];

function kindFields(kind) {
  if (kind === "SKP_DRAFT") {
    return `<fieldset><legend>${T["decide.targets"]}</legend><div id="targets"></div>
      <button type="button" class="secondary" id="add-target">${T["decide.add_target"]}</button></fieldset>`;
  }
  if (kind === "RATING") {
    const sel = (id, label) => `<label>${label} <select id="${id}">${RATINGS.map((r) => `<option>${r}</option>`).join("")}</select></label>`;
    return sel("hasil_kerja", T["decide.hasil"]) + sel("perilaku_kerja", T["decide.perilaku"]);
  }
  return `<label>${T["decide.data"]} <textarea id="data" rows="3" cols="50">{}</textarea></label>`;
}

function addTarget() {
  const n = document.querySelectorAll("#targets .target").length + 1;
  const div = document.createElement("div"); div.className = "row target";
  div.innerHTML = `<label>${T["decide.indicator"]} ${n} <input class="indikator" size="40" required></label><label>${T["decide.target"]} ${n} <input class="target-value" size="16" required></label>`;
  $("#targets").appendChild(div);
}

function decisionData(kind) {
  if (kind === "SKP_DRAFT") {
    return {targets: [...document.querySelectorAll("#targets .target")].map((d) => ({indikator: $(".indikator", d).value, target: $(".target-value", d).value}))};
  }
  if (kind === "RATING") return {hasil_kerja: $("#hasil_kerja").value, perilaku_kerja: $("#perilaku_kerja").value};
  return JSON.parse($("#data").value || "{}");
}

async function openTask(t) {
  current = t; $("#decide").hidden = false;
  $("#decide-task").textContent = t.title;
  $("#outcome").innerHTML = t.outcomes.map((o) => `<option>${esc(o)}</option>`).join("");
  $("#kind-fields").innerHTML = kindFields(t.kind);
  if (t.kind === "SKP_DRAFT") { addTarget(); $("#add-target").addEventListener("click", addTarget); }
  $("#case-link").textContent = t.case_id; $("#case-link").href = `/cases/${encodeURIComponent(t.case_id)}`;
  $("#result").textContent = "";
  await loadTimeline(t.case_id);
  $("#outcome").focus();
}

async function act(t, action) {
  try { await api(`/api/v1/tasks/${encodeURIComponent(t.id)}/${action}`, {method: "POST", body: "{}"}); await loadInbox(); }
  catch (e) { showError(e); }
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
      `<td>${esc(t.title)}<br><small>${esc(t.case_id)}</small></td><td>${esc(t.kind)}</td>` +
      `<td class="${t.overdue ? "late" : ""}">${day(t.due_at)}${t.overdue ? " · " + T["task.late"] : ""}</td><td>${esc(t.status)}</td><td class="actions"></td>`;
    const cell = $(".actions", tr);
    const button = (label, fn, cls = "") => { const b = document.createElement("button"); b.type = "button"; b.textContent = label; if (cls) b.className = cls; b.addEventListener("click", fn); cell.appendChild(b); };
    button(T["task.open"], () => openTask(t));
    if (t.status === "open" && !t.assignee_nip) button(T["task.claim"], () => act(t, "claim"), "secondary");
    if (t.status === "claimed") button(T["task.release"], () => act(t, "release"), "secondary");
    body.appendChild(tr);
  }
  if (!tasks.data.length) body.innerHTML = `<tr><td colspan="6">${T["inbox.empty"]}</td></tr>`;
}

async function initInbox() {
  $("#filters").addEventListener("submit", (ev) => { ev.preventDefault(); loadInbox().catch(showError); });
  $("#decide-form").addEventListener("submit", async (ev) => {
    ev.preventDefault();
    try {
      const r = await api(`/api/v1/tasks/${encodeURIComponent(current.id)}/decision`, {method: "POST",
        body: JSON.stringify({outcome: $("#outcome").value, reason: $("#reason").value, data: decisionData(current.kind)})});
      $("#result").innerHTML = `<span class="ok">✔ ${esc(r.event_type)} #${r.position}</span>`;
      await loadTimeline(current.case_id); await loadInbox();
    } catch (e) {
      const detail = (e.body && e.body.problems || []).map((p) => (window.LANG === "en" ? p.en : p.id)).join("; ");
      $("#result").innerHTML = `<span class="err">✘ ${esc(e.message)}${detail ? ": " + esc(detail) : ""}</span>`;
    }
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
  await loadInbox();
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

(async () => {
  const me = await setupAuth();
  if (!me) return;
  const page = document.body.dataset.page;
  try {
    if (page === "inbox") await initInbox();
    else if (page === "case") await initCase();
    else if (page === "me") await initMe(me);
    else if (page === "audit") await initAudit();
    else if (page === "dashboards") await initDashboards();
  } catch (e) { showError(e); }
})();
