// Một Cửa Edge — the intake screen: live procedure search, autofill by ID number, the live due
// date, and a draft kept in this browser so an expired session loses nothing.
// Text from people or the catalogue is only ever set with textContent / value, never innerHTML.
"use strict";

(function () {
  const form = document.getElementById("intake-form");
  const dataNode = document.getElementById("intake-data");
  if (!form || !dataNode) return;
  document.documentElement.classList.add("js");

  const cfg = JSON.parse(dataNode.textContent);
  const msg = cfg.messages;
  const $ = (id) => document.getElementById(id);
  const el = (name) => form.elements.namedItem(name);
  const fmt = (text, values) => text.replace(/%\((\w+)\)s/g, (m, k) => (k in values ? String(values[k]) : m));

  const notice = $("intake-notice");
  function say(text, isError) {
    notice.textContent = text || "";
    notice.hidden = !text;
    notice.className = isError ? "flash flash-error" : "flash";
    notice.setAttribute("role", isError ? "alert" : "status");
  }

  // GET a JSON helper; a redirect to the login page means the session has expired.
  async function getJSON(url, params) {
    let res;
    try {
      res = await fetch(url + "?" + new URLSearchParams(params), {
        headers: { Accept: "application/json" }, credentials: "same-origin",
      });
    } catch (err) {
      say(msg.offline, true);
      return null;
    }
    const type = res.headers.get("Content-Type") || "";
    if (res.redirected || !type.includes("application/json")) {
      say(msg.expired, true);
      return null;
    }
    return { status: res.status, body: await res.json() };
  }

  // --- procedure: search as you type, pick, show time, fees, checklist and due date -----------
  const search = $("proc-q");
  const select = $("proc-select");
  const hidden = el("procedure_code");
  const procedures = cfg.procedures.map((p) => ({ ...p, fold: motcuaFold(`${p.code} ${p.name} ${p.field}`) }));
  let shownCode = hidden.value; // the procedure whose checklist is on the page

  function filter() {
    const words = motcuaFold(search.value).split(" ").filter(Boolean);
    const keep = procedures.filter((p) => words.every((w) => p.fold.includes(w)));
    select.replaceChildren();
    let group = null;
    for (const p of keep) {
      if (!group || group.label !== p.field) {
        group = document.createElement("optgroup");
        group.label = p.field;
        select.append(group);
      }
      const option = document.createElement("option");
      option.value = p.code;
      option.textContent = p.name;
      option.selected = p.code === hidden.value;
      group.append(option);
    }
    $("proc-count").textContent = words.length ? (keep.length ? fmt(msg.matches, { n: keep.length }) : msg.no_match) : "";
    return keep;
  }

  search.addEventListener("input", filter);
  search.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { // take the first match and go on to the checklist
      event.preventDefault();
      const keep = filter();
      if (keep.length) choose(keep[0].code, true);
    } else if (event.key === "ArrowDown" && select.options.length) {
      event.preventDefault();
      select.focus();
      if (select.selectedIndex < 0) { select.selectedIndex = 0; choose(select.value, false); }
    }
  });
  select.addEventListener("change", () => choose(select.value, false));
  select.addEventListener("keydown", (event) => {
    if (event.key === "Enter") { event.preventDefault(); choose(select.value, true); }
  });

  let chosenSeq = 0;
  async function choose(code, focusNext, docs) {
    if (!code) return;
    hidden.value = code;
    for (const option of select.options) option.selected = option.value === code;
    const seq = ++chosenSeq;
    const answer = await getJSON(cfg.urls.procedure, { code, channel: channel() });
    if (!answer || seq !== chosenSeq) return;
    if (answer.status !== 200) { say(answer.body.error, true); return; }
    if (shownCode !== code || docs) renderProcedure(answer.body.procedure, docs);
    showDue(answer.body.due);
    history.replaceState(null, "", "?" + new URLSearchParams({ procedure: code }));
    saveDraft();
    if (focusNext) {
      const next = form.querySelector("#doc-rows input[type=checkbox]") || $("id_number");
      next.focus();
    }
  }

  function cell(row, child) {
    const td = document.createElement("td");
    if (typeof child === "string") td.textContent = child; else if (child) td.append(child);
    row.append(td);
    return td;
  }

  function renderProcedure(p, docs) {
    shownCode = p.code;
    $("proc-details").hidden = false;
    $("proc-name").textContent = p.name;
    $("proc-code").textContent = p.code;
    $("proc-field").textContent = p.field;
    $("proc-time").textContent = p.processing;
    const fees = $("proc-fees");
    fees.replaceChildren();
    for (const fee of p.fees) {
      const li = document.createElement("li");
      li.textContent = `${fee.name} (${fee.kind}): ${fee.text}`;
      fees.append(li);
    }
    const total = document.createElement("li");
    if (p.fees.length) {
      const strong = document.createElement("strong");
      strong.textContent = `${msg.total}: ${p.total_text}`;
      total.append(strong);
    } else {
      total.textContent = msg.none_fees;
    }
    fees.append(total);
    const rows = $("doc-rows");
    rows.replaceChildren();
    p.documents.forEach((doc, i) => {
      const saved = (docs || {})[i];
      const row = document.createElement("tr");
      const box = document.createElement("input");
      box.type = "checkbox"; box.id = box.name = `doc_${i}`; box.value = "1";
      box.checked = Boolean(saved && saved.checked);
      cell(row, box);
      const label = document.createElement("label");
      label.htmlFor = box.id; label.textContent = doc.name;
      cell(row, label);
      cell(row, doc.kind_label);
      const qty = document.createElement("input");
      qty.type = "number"; qty.id = qty.name = `doc_qty_${i}`; qty.min = "1"; qty.max = "99";
      qty.inputMode = "numeric"; qty.value = saved ? saved.quantity : String(doc.quantity);
      qty.setAttribute("aria-label", `${msg.quantity}: ${doc.name}`);
      cell(row, qty).className = "num";
      rows.append(row);
    });
  }

  $("tick-all").addEventListener("click", () => {
    form.querySelectorAll("#doc-rows input[type=checkbox]").forEach((b) => { b.checked = true; });
    saveDraft();
  });

  // --- due date: on procedure or channel change, and every minute (15:00 cut-offs) ------------
  const channel = () => (el("channel") && el("channel").value) || "counter";
  function showDue(due) { $("due-preview").textContent = due.label; }
  async function refreshDue() {
    if (!hidden.value) return;
    const answer = await getJSON(cfg.urls.due, { procedure_code: hidden.value, channel: channel() });
    if (answer && answer.status === 200) showDue(answer.body);
  }
  setInterval(refreshDue, 60000);

  // --- return address only for results sent by post --------------------------------------------
  const returnWrap = $("return-address-wrap");
  function toggleReturn() { returnWrap.hidden = el("return_method").value !== "post" && !el("return_address").value; }
  form.addEventListener("change", (event) => {
    if (event.target.name === "return_method") toggleReturn();
    if (event.target.name === "channel") refreshDue();
  });
  toggleReturn();

  // --- applicant: a known ID number fills the person from their last dossier --------------------
  const idInput = $("id_number");
  const idType = $("id_type");
  const fillable = ["full_name", "date_of_birth", "sex", "phone", "email", "address"];
  for (const name of fillable) {
    el(name).addEventListener("input", () => { delete el(name).dataset.autofilled; });
    el(name).addEventListener("change", () => { delete el(name).dataset.autofilled; });
  }
  const compact = () => idInput.value.replace(/\s+/g, "").toUpperCase();
  function complete(number) {
    if (idType.value === "cccd") return /^\d{12}$/.test(number);
    if (idType.value === "cmnd") return /^\d{9}$/.test(number);
    return number.length >= 6;
  }
  let looked = "";
  async function lookup(force) {
    const number = compact();
    if (!number || number === looked || !(force || complete(number))) return;
    looked = number;
    const answer = await getJSON(cfg.urls.applicant, { id_number: number });
    if (!answer || compact() !== number) return;
    const note = $("autofill-note");
    if (!answer.body.found) {
      // What was filled for another number belongs to another person: take it away.
      for (const name of fillable) {
        if (el(name).dataset.autofilled) { el(name).value = ""; delete el(name).dataset.autofilled; }
      }
      note.textContent = answer.body.message || "";
      return;
    }
    const person = answer.body.applicant;
    const values = { ...person, date_of_birth: person.date_of_birth_text };
    for (const name of fillable) {
      const input = el(name);
      const value = values[name];
      if (value === null || value === undefined || value === "") continue;
      if (!input.value || input.dataset.autofilled) { input.value = value; input.dataset.autofilled = "1"; }
    }
    note.textContent = answer.body.message;
    saveDraft();
  }
  idInput.addEventListener("input", () => lookup(false));
  idInput.addEventListener("change", () => lookup(true));
  idType.addEventListener("change", () => {
    idInput.inputMode = idType.value === "passport" ? "text" : "numeric";
    looked = "";
    lookup(false);
  });

  // --- scans: refuse a wrong or oversize file before sending it ---------------------------------
  const scans = $("scans");
  const scanError = $("scans-client-error");
  function checkFiles() {
    let problem = "";
    if (scans.files.length > cfg.max_files) problem = msg.too_many;
    for (const file of scans.files) {
      if (problem) break;
      if (file.size > cfg.max_bytes) problem = fmt(msg.too_large, { name: file.name, size: cfg.max_mb });
      else if (!/\.(pdf|jpe?g|png)$/i.test(file.name) && !["application/pdf", "image/jpeg", "image/png"].includes(file.type)) {
        problem = fmt(msg.wrong_type, { name: file.name });
      }
    }
    scanError.textContent = problem;
    scanError.hidden = !problem;
    if (problem) scans.setAttribute("aria-invalid", "true"); else scans.removeAttribute("aria-invalid");
    return !problem;
  }
  scans.addEventListener("change", checkFiles);
  // Runs on the form before app.js's data-once handler on the document, so a refused file does
  // not leave the form marked as sent.
  form.addEventListener("submit", (event) => {
    if (!checkFiles()) {
      event.preventDefault();
      event.stopPropagation();
      scans.focus();
      return;
    }
    saveDraft();
  });

  // --- the draft: kept in this browser while typing, restored after a re-login ------------------
  const DRAFT = `motcua.intake.draft.${cfg.user}`;
  const DRAFT_HOURS = 12;
  const FIELDS = ["procedure_code", "id_number", "id_type", "full_name", "date_of_birth", "sex", "phone", "email",
    "address", "channel", "return_method", "return_address", "notes", "extra_name", "extra_kind", "extra_qty"];

  function collect() {
    const fields = {};
    for (const name of FIELDS) { const input = el(name); if (input) fields[name] = input.value; }
    const docs = {};
    form.querySelectorAll("#doc-rows input[type=checkbox]").forEach((b) => {
      const i = b.id.slice(4);
      docs[i] = { checked: b.checked, quantity: el(`doc_qty_${i}`).value };
    });
    return { at: Date.now(), key: el("idempotency_key").value, search: search.value, fields, docs };
  }
  function meaningful(draft) {
    return ["id_number", "full_name", "phone", "address", "notes"].some((n) => (draft.fields[n] || "").trim());
  }
  let timer = null;
  function saveDraft() {
    clearTimeout(timer);
    try {
      const draft = collect();
      if (meaningful(draft) || draft.fields.procedure_code) localStorage.setItem(DRAFT, JSON.stringify(draft));
    } catch (err) { /* storage full or disabled: the form still works */ }
  }
  function dropDraft() { try { localStorage.removeItem(DRAFT); } catch (err) { /* ignore */ } }
  form.addEventListener("input", (event) => {
    if (event.target.form !== form) return; // the search box belongs to the picker
    clearTimeout(timer);
    timer = setTimeout(saveDraft, 300);
  });
  form.addEventListener("change", (event) => { if (event.target.form === form) saveDraft(); });

  async function restoreDraft() {
    let draft = null;
    try { draft = JSON.parse(localStorage.getItem(DRAFT) || "null"); } catch (err) { draft = null; }
    if (!draft || !draft.fields || Date.now() - draft.at > DRAFT_HOURS * 3600 * 1000) { dropDraft(); return; }
    if (draft.key) { // saved already (the receipt opened, the draft stayed): nothing to restore
      const answer = await getJSON(cfg.urls.saved, { key: draft.key });
      if (answer && answer.body.saved) { dropDraft(); return; }
    }
    if (!meaningful(draft)) return;
    for (const name of FIELDS) {
      const input = el(name);
      if (!input || name === "procedure_code" || draft.fields[name] === undefined) continue;
      input.value = draft.fields[name];
    }
    idInput.inputMode = idType.value === "passport" ? "text" : "numeric";
    looked = compact();
    toggleReturn();
    if (draft.fields.procedure_code) await choose(draft.fields.procedure_code, false, draft.docs || {});
    const when = new Date(draft.at);
    const time = `${String(when.getHours()).padStart(2, "0")}:${String(when.getMinutes()).padStart(2, "0")}`;
    $("draft-text").textContent = fmt(msg.restored, { time });
    $("draft-note").hidden = false;
  }

  function discard(event) {
    if (!window.confirm(msg.discard)) { event.preventDefault(); return; }
    dropDraft();
  }
  $("discard").addEventListener("click", discard);
  $("draft-discard").addEventListener("click", (event) => {
    if (!window.confirm(msg.discard)) return;
    dropDraft();
    window.location.href = cfg.urls.form;
    event.preventDefault();
  });

  // --- on load ------------------------------------------------------------------------------------
  if (search.value) filter();
  const firstBad = form.querySelector("input[aria-invalid=true], select[aria-invalid=true], textarea[aria-invalid=true]");
  if (firstBad) firstBad.focus();
  if (cfg.fresh) restoreDraft(); else saveDraft(); // after a refused save the page holds the newest data
})();
