// clinrag web page: asks for an API key (kept in sessionStorage), sends questions to
// /v1/ask and shows the answer with expandable citations. Every piece of text from the
// server goes in through textContent, never as HTML.
"use strict";

const KEY = "clinrag.apiKey";
const $ = (id) => document.getElementById(id);

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs || {})) {
    if (name === "class") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children) {
    if (child !== null && child !== undefined) {
      node.append(child instanceof Node ? child : String(child));
    }
  }
  return node;
}

class ApiError extends Error {
  constructor(status, message, retryAfter) {
    super(message);
    this.status = status;
    this.retryAfter = retryAfter;
  }
}

async function api(path, body) {
  const init = { headers: { Authorization: "Bearer " + sessionStorage.getItem(KEY) } };
  if (body !== undefined) {
    init.method = "POST";
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "The server cannot be reached.");
  }
  if (response.ok) return response.json();
  let detail = response.statusText;
  try {
    const data = await response.json();
    detail = typeof data.detail === "string" ? data.detail
      : (data.detail || []).map((d) => d.msg || JSON.stringify(d)).join("; ");
  } catch (err) { /* not JSON */ }
  throw new ApiError(response.status, detail, response.headers.get("Retry-After"));
}

function explain(err) {
  switch (err.status) {
    case 401: return "The API key was not accepted. Enter a valid key.";
    case 413: return "The question is too long.";
    case 422: return "The question cannot be used: " + err.message;
    case 429: return `Too many questions from this key; try again in ${err.retryAfter || "a few"} s.`;
    case 503: return `The server is busy; try again in ${err.retryAfter || "a few"} s.`;
    case 504: return "The answer took too long; please try again.";
    default: return err.message || "Something went wrong.";
  }
}

function setStatus(text, isError) {
  const status = $("status");
  status.textContent = text;
  status.classList.toggle("error", Boolean(isError));
}

// -- key -------------------------------------------------------------------------------------
function showKeyForm(message) {
  $("key-panel").hidden = false;
  $("ask-panel").hidden = true;
  $("forget-key").hidden = true;
  if (message) $("key-help").textContent = message;
  $("key-input").focus();
}

async function useKey() {
  try {
    const info = await api("/v1/index");
    $("key-panel").hidden = true;
    $("ask-panel").hidden = false;
    $("forget-key").hidden = false;
    $("index-info").textContent =
      `index ${info.generation}: ${info.counts.documents ?? "?"} documents, ${info.counts.chunks ?? "?"} passages`;
    const select = $("source");
    select.replaceChildren(el("option", { value: "" }, "any"));
    for (const name of Object.keys(info.sources).sort()) {
      select.append(el("option", { value: name }, `${name} (${info.sources[name]})`));
    }
    $("question").focus();
  } catch (err) {
    if (err.status === 401) sessionStorage.removeItem(KEY);
    showKeyForm(explain(err));
  }
}

// -- asking ----------------------------------------------------------------------------------
function filters() {
  const out = {};
  const yearMin = $("year-min").value, yearMax = $("year-max").value, source = $("source").value;
  if (yearMin) out.year_min = Number(yearMin);
  if (yearMax) out.year_max = Number(yearMax);
  if (source) out.sources = [source];
  return out;
}

async function ask(event) {
  event.preventDefault();
  const question = $("question").value.trim();
  if (!question) return;
  const button = $("ask-button");
  button.disabled = true;
  setStatus("Searching the literature and checking each sentence...");
  const started = performance.now();
  try {
    const answer = await api("/v1/ask", { question, filters: filters() });
    render(answer);
    setStatus(`Answered in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  } catch (err) {
    setStatus(explain(err), true);
    if (err.status === 401) { sessionStorage.removeItem(KEY); showKeyForm(explain(err)); }
  } finally {
    button.disabled = false;
  }
}

function sourceLabel(source) {
  const where = source.page_number ? `p. ${source.page_number}` : (source.section || "abstract");
  const bits = [source.journal, source.year, source.study_type].filter(Boolean).join(", ");
  return `${source.title}${bits ? " (" + bits + ")" : ""}, ${where}`;
}

function quoteFor(source) {
  return el("div", { class: "quote", id: `quote-${source.n}` },
    el("blockquote", {}, source.text),
    el("div", { class: "muted" }, `[${source.n}] ${sourceLabel(source)} `,
      source.retracted ? el("span", { class: "retracted" }, "RETRACTED ") : null,
      el("button", { type: "button", class: "link open-doc",
                     onclick: () => openDocument(source) }, "Open page")));
}

function citeButton(source, item) {
  const button = el("button", { type: "button", class: "cite", "aria-expanded": "false",
                                title: source.title }, `[${source.n}]`);
  button.addEventListener("click", () => {
    const open = button.getAttribute("aria-expanded") === "true";
    const existing = item.querySelector(`#quote-${source.n}`);
    if (open && existing) existing.remove();
    else if (!existing) item.append(quoteFor(source));
    button.setAttribute("aria-expanded", String(!open));
  });
  return button;
}

// The evidence meter: each cited paper's stance, design and year, with its sentence.
function renderMeter(answer) {
  const meter = $("meter");
  meter.replaceChildren();
  const papers = answer.papers || [];
  meter.hidden = answer.abstained || papers.length === 0;
  if (meter.hidden) return;
  meter.append(el("strong", {}, answer.meter || ""));
  const list = el("ul", {});
  for (const paper of papers) {
    const facts = [paper.year, paper.design].filter(Boolean).join(", ");
    const item = el("li", {},
      el("span", { class: `stance ${paper.stance}` }, paper.stance), " ",
      paper.n ? `[${paper.n}] ` : "", paper.title,
      facts ? el("span", { class: "muted" }, ` (${facts})`) : null,
      paper.retracted ? el("span", { class: "retracted" }, " RETRACTED, not counted") : null);
    if (paper.sentence) item.append(el("div", { class: "muted" }, `“${paper.sentence}”`));
    list.append(item);
  }
  meter.append(list);
}

function render(answer) {
  const byN = new Map(answer.evidence.map((s) => [s.n, s]));
  $("result").hidden = false;
  $("doc-view").hidden = true;

  const line = $("verdict-line");
  line.replaceChildren();
  if (answer.verdict && !answer.abstained) {
    // "unclear": the shown sentences do not give one clear answer; no colour, no guess.
    const label = answer.verdict === "unclear" ? "No clear answer in these passages"
                                               : answer.verdict.toUpperCase();
    line.append(el("span", { class: `verdict ${answer.verdict}` }, label));
    if (answer.verdict === "unclear" && answer.verdict_reason) {
      line.append(el("span", { class: "muted" }, answer.verdict_reason));
    } else if (answer.confidence !== null && answer.confidence !== undefined) {
      line.append(el("span", { class: "muted" },
        `confidence ${Math.round(answer.confidence * 100)}%`));
    }
  }
  renderMeter(answer);

  const abstention = $("abstention");
  abstention.hidden = !answer.abstained;
  abstention.textContent = answer.abstained
    ? "No answer: the indexed literature does not support one" +
      (answer.abstention_reason ? ` (${answer.abstention_reason}).` : ".") +
      (answer.evidence.length ? " The closest passages found are listed below." : "")
    : "";
  $("evidence-heading").hidden = answer.evidence.length === 0;

  const statements = $("statements");
  statements.replaceChildren();
  for (const statement of answer.sentences) {
    const item = el("li", {}, statement.text);
    for (const n of statement.citations) {
      if (byN.has(n)) item.append(citeButton(byN.get(n), item));
    }
    statements.append(item);
  }

  const evidence = $("evidence");
  evidence.replaceChildren();
  for (const source of answer.evidence) {
    evidence.append(el("li", { value: String(source.n) },
      el("strong", {}, source.title), " ",
      el("span", { class: "muted" }, sourceLabel(source).slice(source.title.length)),
      source.retracted ? el("span", { class: "retracted" }, " RETRACTED") : null, " ",
      el("button", { type: "button", class: "link", onclick: () => openDocument(source) },
        "Open page")));
  }
  $("disclaimer").textContent = answer.disclaimer;
}

// -- document view ---------------------------------------------------------------------------
let docState = null;

async function openDocument(source, page) {
  const query = page ? `page=${page}` : `chunk=${encodeURIComponent(source.chunk_id)}`;
  try {
    const doc = await api(`/v1/documents/${encodeURIComponent(source.doc_id)}?${query}`);
    docState = { source, doc };
    showDocument();
  } catch (err) {
    setStatus(explain(err), true);
  }
}

function showDocument() {
  const { source, doc } = docState;
  const view = $("doc-view");
  view.hidden = false;
  $("doc-title").textContent = doc.title;
  $("doc-meta").textContent = [doc.journal, doc.year, doc.pmid && `PMID ${doc.pmid}`,
    doc.doi && `doi:${doc.doi}`, doc.retracted && "RETRACTED"].filter(Boolean).join(" · ");
  const page = doc.page;
  $("doc-page-label").textContent = `page ${page.number} of ${doc.pages.length}` +
    (page.section ? ` · ${page.section}` : "");
  $("doc-prev").disabled = page.number <= 1;
  $("doc-next").disabled = page.number >= doc.pages.length;
  const text = $("doc-text");
  text.replaceChildren();
  const holdsPassage = page.text.slice(source.start, source.end) === source.text;
  if (holdsPassage) {
    text.append(page.text.slice(0, source.start), el("mark", {}, source.text),
      page.text.slice(source.end));
  } else {
    text.append(page.text);
  }
  view.scrollIntoView({ behavior: "smooth", block: "start" });
  const mark = text.querySelector("mark");
  if (mark) mark.scrollIntoView({ block: "center" });
}

function turnPage(delta) {
  if (!docState) return;
  openDocument(docState.source, docState.doc.page.number + delta);
}

// -- start -----------------------------------------------------------------------------------
document.addEventListener("DOMContentLoaded", () => {
  $("key-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(KEY, $("key-input").value.trim());
    $("key-input").value = "";
    useKey();
  });
  $("forget-key").addEventListener("click", () => {
    sessionStorage.removeItem(KEY);
    $("result").hidden = true;
    showKeyForm("Key forgotten.");
  });
  $("ask-form").addEventListener("submit", ask);
  $("doc-close").addEventListener("click", () => { $("doc-view").hidden = true; });
  $("doc-prev").addEventListener("click", () => turnPage(-1));
  $("doc-next").addEventListener("click", () => turnPage(1));
  if (sessionStorage.getItem(KEY)) useKey(); else showKeyForm();
});
