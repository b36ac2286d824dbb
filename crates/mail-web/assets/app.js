// The mailwire web page: a list of messages with live updates, and one
// message at a time. Every value from a message is set as text, never as
// markup; the message's HTML goes only into the sandboxed frame.
"use strict";

const PAGE = 50;
const state = { start: 0, query: "", selected: null, total: 0 };
const $ = (sel) => document.querySelector(sel);

function el(tag, text, attrs) {
  const e = document.createElement(tag);
  if (text !== undefined && text !== null) e.textContent = text;
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, v);
  return e;
}

function person(p) {
  if (!p) return "";
  return p.name ? `${p.name} <${p.address}>` : p.address;
}

function when(iso) {
  if (!iso) return "";
  const d = new Date(iso);
  return isNaN(d) ? iso : d.toLocaleString();
}

function idPath(id) {
  return "/api/messages/" + encodeURIComponent(id);
}

async function getJSON(url, options) {
  const r = await fetch(url, options);
  if (!r.ok) throw new Error(`${r.status} ${url}`);
  return r.json();
}

async function loadList() {
  const params = new URLSearchParams({ start: state.start, limit: PAGE });
  let url = "/api/messages?" + params;
  if (state.query.trim()) {
    params.set("query", state.query);
    url = "/api/search?" + params;
  }
  let data;
  try {
    data = await getJSON(url);
  } catch (e) {
    $("#list-status").textContent = "Could not load the list: " + e.message;
    return;
  }
  state.total = data.messagesCount;
  const body = $("#list tbody");
  body.replaceChildren();
  for (const m of data.messages) {
    const row = el("tr", undefined, { "data-id": m.id });
    row.append(el("td", person(m.from), { class: "from" }), el("td", m.subject || "(no subject)", { class: "subject" }), el("td", when(m.received)));
    if (m.id === state.selected) row.classList.add("selected");
    row.addEventListener("click", () => openMessage(m.id));
    body.append(row);
  }
  const shown = data.messages.length;
  $("#list-status").textContent = state.query.trim()
    ? `${data.messagesCount} of ${data.total} messages match`
    : `${data.total} messages`;
  $("#prev").disabled = state.start === 0;
  $("#next").disabled = state.start + shown >= data.messagesCount;
}

function showTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const t of document.querySelectorAll(".tab")) t.classList.toggle("active", t.id === "tab-" + name);
  if (name === "raw" && state.selected && !$("#tab-raw").dataset.loaded) loadRaw();
}

async function loadRaw() {
  const id = state.selected;
  const r = await fetch(idPath(id) + "/raw");
  const text = await r.text();
  if (state.selected !== id) return;
  $("#tab-raw").textContent = text.length > 2000000 ? text.slice(0, 2000000) + "\n[... use Download .eml for the rest]" : text;
  $("#tab-raw").dataset.loaded = "1";
}

async function openMessage(id) {
  state.selected = id;
  for (const r of document.querySelectorAll("#list tbody tr")) r.classList.toggle("selected", r.dataset.id === id);
  let m;
  try {
    m = await getJSON(idPath(id));
  } catch (e) {
    $("#list-status").textContent = "Could not open the message: " + e.message;
    return;
  }
  $("#view").hidden = false;
  $("#view").dataset.id = id;
  $("#subject").textContent = m.subject || "(no subject)";
  const meta = $("#meta");
  meta.replaceChildren();
  const rows = [["From", person(m.from)], ["To", m.to.map(person).join(", ")], ["Cc", m.cc.map(person).join(", ")], ["Date", when(m.date)], ["Size", `${m.size} bytes`]];
  for (const [k, v] of rows) if (v) meta.append(el("dt", k), el("dd", v));
  $("#raw-download").href = idPath(id) + "/raw?download=1";
  const list = $("#attachments");
  list.replaceChildren();
  for (const a of m.attachments.filter(Boolean)) {
    const li = el("li");
    const link = el("a", a.fileName || `part ${a.partId}`, { href: a.url + "?download=1", download: a.fileName || "", class: "attachment" });
    li.append(link, document.createTextNode(` (${a.contentType}, ${a.size} bytes)`));
    list.append(li);
  }
  $("#tab-text").textContent = m.text || "";
  const headers = $("#tab-headers tbody");
  headers.replaceChildren();
  for (const h of m.headers) {
    const tr = el("tr");
    tr.append(el("td", h.name), el("td", h.value));
    headers.append(tr);
  }
  $("#tab-raw").textContent = "";
  delete $("#tab-raw").dataset.loaded;
  $("#remote-bar").hidden = !m.remoteContent;
  if (m.html !== null) {
    $("#frame").src = idPath(id) + "/html";
    showTab("html");
  } else {
    $("#frame").src = "about:blank";
    showTab("text");
  }
}

async function deleteOne() {
  if (!state.selected) return;
  await fetch(idPath(state.selected), { method: "DELETE" });
  state.selected = null;
  $("#view").hidden = true;
  loadList();
}

async function deleteAll() {
  if (!confirm("Delete every message?")) return;
  await fetch("/api/messages", { method: "DELETE" });
  state.selected = null;
  $("#view").hidden = true;
  loadList();
}

function listen() {
  if (!window.EventSource) {
    setInterval(loadList, 3000);
    return;
  }
  const source = new EventSource("/api/events");
  source.addEventListener("open", () => $("#live").classList.add("on"));
  source.addEventListener("error", () => $("#live").classList.remove("on"));
  source.addEventListener("messages", () => loadList());
}

document.addEventListener("DOMContentLoaded", () => {
  $("#search-form").addEventListener("submit", (e) => { e.preventDefault(); state.query = $("#search").value; state.start = 0; loadList(); });
  let typing;
  $("#search").addEventListener("input", () => { clearTimeout(typing); typing = setTimeout(() => { state.query = $("#search").value; state.start = 0; loadList(); }, 250); });
  $("#prev").addEventListener("click", () => { state.start = Math.max(0, state.start - PAGE); loadList(); });
  $("#next").addEventListener("click", () => { state.start += PAGE; loadList(); });
  $("#delete-one").addEventListener("click", deleteOne);
  $("#delete-all").addEventListener("click", deleteAll);
  $("#load-remote").addEventListener("click", () => { $("#frame").src = idPath(state.selected) + "/html?remote=1"; $("#remote-bar").hidden = true; });
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => showTab(b.dataset.tab));
  loadList();
  listen();
});
