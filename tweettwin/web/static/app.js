// tweettwin's page: plain JavaScript, no build step. Every call goes to this same server.
"use strict";
const $ = (id) => document.getElementById(id);
let dataset = null;      // name of the dataset shown
let job = null;          // the training job shown
let source = null;       // EventSource of that job
let points = [];         // [{step, loss}] and [{step, val}]
let applied = 0;         // how many of the job's events the chart holds (events are numbered)
let heard = 0;           // when the stream last said something (Date.now())
let poller = null;       // reads the job when its stream goes quiet
const QUIET_MS = 5000;

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
  if (message) box.scrollIntoView({ behavior: "smooth", block: "nearest" });
}

async function call(method, path, body, raw) {
  let response;
  try {
    response = await fetch(path, {
      method,
      headers: raw ? { "Content-Type": "application/octet-stream" } : { "Content-Type": "application/json" },
      body: raw ? body : body === undefined ? undefined : JSON.stringify(body),
    });
  } catch (e) {
    throw new Error("Could not reach the tweettwin server. Is it still running?");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    const message = (data.error && data.error.message) || `The server answered ${response.status}.`;
    const err = new Error(message.charAt(0).toUpperCase() + message.slice(1));
    err.status = response.status;
    throw err;
  }
  return data;
}

async function busy(button, note, work) {
  showError("");
  button.disabled = true;
  if (note) note.hidden = false;
  try { await work(); } catch (e) { showError(e.message); }
  finally { button.disabled = false; if (note) note.hidden = true; }
}

// ---------------------------------------------------------------- 1. make a dataset
function showDataset(d) {
  dataset = d.dataset;
  $("dataset-name").textContent = d.dataset;
  const rows = d.authors.map((a) => `<tr><td>@${esc(a.handle)}</td><td>${a.downloaded}</td><td>${a.retweets}</td>
    <td>${a.replies}</td><td>${a.short}</td><td>${a.duplicates}</td><td>${a.kept}</td><td>${a.train}</td><td>${a.validation}</td></tr>`);
  $("authors").querySelector("tbody").innerHTML = rows.join("");
  $("sample-posts").innerHTML = d.posts.map((p) => `<li>${esc(p)}</li>`).join("");
  $("dataset").hidden = false;
  if (d.warnings && d.warnings.length) showError(d.warnings.join(" "));
}

$("upload").onclick = () => busy($("upload"), $("reading"), async () => {
  const file = $("file").files[0];
  if (!file) throw new Error("Choose a file first: your X archive (.zip), a Mastodon export or a CSV.");
  const up = await call("POST", `/api/uploads?filename=${encodeURIComponent(file.name)}`, file, true);
  showDataset(await call("POST", "/api/datasets", { upload_id: up.upload_id }));
});

$("fetch").onclick = () => busy($("fetch"), $("reading"), async () => {
  const handle = $("handle").value.trim();
  if (!handle) throw new Error("Type a handle first, like @user@mastodon.social.");
  showDataset(await call("POST", "/api/datasets", { handle }));
});

$("train").onclick = () => busy($("train"), null, async () => {
  const minutes = parseFloat($("minutes").value);
  const body = { dataset };
  if (minutes > 0) body.max_minutes = minutes;
  watch(await call("POST", "/api/jobs", body));
});

// ---------------------------------------------------------------- 2. training
function fmtTime(s) {
  if (s === null || s === undefined || !isFinite(s)) return "–";
  s = Math.round(s);
  return s >= 60 ? `${Math.floor(s / 60)} min ${s % 60} s` : `${s} s`;
}

function onEvent(e) {
  if (e.kind === "step") {
    points.push({ step: e.step, loss: e.loss });
    $("stat-step").textContent = e.total_steps ? `${e.step} / ${e.total_steps}` : `${e.step}`;
    $("stat-tps").textContent = e.tokens_per_s ? Math.round(e.tokens_per_s).toLocaleString() : "–";
    $("stat-eta").textContent = fmtTime(e.eta_s);
    $("stat-loss").textContent = e.loss.toFixed(3);
  } else if (e.kind === "eval") {
    points.push({ step: e.step, val: e.val_loss });
  } else if (e.kind === "status") {
    job.status = e.status; job.error = e.error;
  }
}

function drawChart() {
  const svg = $("chart"), W = 600, H = 240, P = 34;
  const all = points.map((p) => p.loss ?? p.val);
  if (!all.length) { svg.innerHTML = `<text x="${W / 2}" y="${H / 2}" text-anchor="middle" fill="#5b6570">waiting for the first step…</text>`; return; }
  const maxStep = Math.max(1, ...points.map((p) => p.step));
  const lo = Math.min(...all), hi = Math.max(...all), span = hi - lo || 1;
  const x = (s) => P + (W - 2 * P) * (s / maxStep);
  const y = (v) => H - P - (H - 2 * P) * ((v - lo) / span);
  const train = points.filter((p) => p.loss !== undefined).map((p) => `${x(p.step).toFixed(1)},${y(p.loss).toFixed(1)}`);
  const vals = points.filter((p) => p.val !== undefined);
  svg.innerHTML = `
    <line x1="${P}" y1="${H - P}" x2="${W - P}" y2="${H - P}" stroke="#d9dee3"/>
    <line x1="${P}" y1="${P}" x2="${P}" y2="${H - P}" stroke="#d9dee3"/>
    <text x="${P - 4}" y="${P + 4}" text-anchor="end" font-size="11" fill="#5b6570">${hi.toFixed(2)}</text>
    <text x="${P - 4}" y="${H - P}" text-anchor="end" font-size="11" fill="#5b6570">${lo.toFixed(2)}</text>
    <text x="${W - P}" y="${H - P + 16}" text-anchor="end" font-size="11" fill="#5b6570">step ${maxStep}</text>
    <polyline fill="none" stroke="#1d6fd6" stroke-width="2" points="${train.join(" ")}"/>
    <polyline fill="none" stroke="#e07b00" stroke-width="2" stroke-dasharray="4 3" points="${vals.map((p) => `${x(p.step).toFixed(1)},${y(p.val).toFixed(1)}`).join(" ")}"/>
    ${vals.map((p) => `<circle cx="${x(p.step).toFixed(1)}" cy="${y(p.val).toFixed(1)}" r="4" fill="#e07b00"/>`).join("")}`;
}

const STATUS = {
  running: "Training… you can leave this page: reloading shows the same job.",
  completed: "Done: the model is ready below.",
  interrupted: "Stopped. A checkpoint was kept; resume to continue where it stopped.",
  failed: "Training failed.",
};

function showJob() {
  $("job").hidden = false;
  $("job-name").textContent = job.name ? `· ${job.name}` : "";
  let text = STATUS[job.status] || job.status;
  if (job.error && job.status !== "completed") text += ` (${job.error})`;
  $("job-status").textContent = text;
  $("cancel").hidden = job.status !== "running";
  $("resume").hidden = !(job.status === "interrupted" && job.resumable);
  drawChart();
}

function apply(events, from) {
  // events[i] is the job's event number from + i: each is drawn once, whichever way it came
  events.forEach((e, i) => { if (from + i >= applied) { onEvent(e); applied = from + i + 1; } });
}

async function finish(id) {
  if (source) { source.close(); source = null; }
  clearInterval(poller); poller = null;
  job = await call("GET", `/api/jobs/${id}`).catch(() => job);
  apply(job.events || [], 0);
  showJob();
  if (job.status === "completed") loadModels(job.name);
}

function watch(j) {
  job = j; points = []; applied = 0; heard = Date.now();
  if (source) source.close();
  clearInterval(poller);
  showJob();
  // a reconnecting EventSource sends the last id it got: the server resumes after it
  source = new EventSource(`/api/jobs/${j.id}/events`);
  source.onmessage = (m) => {
    heard = Date.now();
    apply([JSON.parse(m.data)], Number(m.lastEventId));
    showJob();
  };
  source.addEventListener("end", () => finish(j.id));
  source.onerror = () => { /* the browser reconnects on its own */ };
  // a stream that goes quiet (a buffering proxy, a connection that hangs): read the job instead
  poller = setInterval(async () => {
    if (Date.now() - heard < QUIET_MS || job.id !== j.id) return;
    const now = await call("GET", `/api/jobs/${j.id}`).catch(() => null);
    if (!now || job.id !== j.id) return;
    apply(now.events || [], 0);
    if (now.status !== "running") return finish(j.id);
    job = { ...now, events: undefined };
    showJob();
  }, QUIET_MS);
}

$("cancel").onclick = () => busy($("cancel"), null, async () => {
  await call("POST", `/api/jobs/${job.id}/cancel`);
  $("job-status").textContent = "Stopping at the next step and saving a checkpoint…";
});
$("resume").onclick = () => busy($("resume"), null, async () => watch(await call("POST", `/api/jobs/${job.id}/resume`)));

// ---------------------------------------------------------------- 3. write posts
async function loadModels(select) {
  const list = (await call("GET", "/v1/models")).data;
  $("no-models").hidden = list.length > 0;
  $("use-form").hidden = list.length === 0;
  $("model").innerHTML = list.map((m) => `<option>${esc(m.id)}</option>`).join("");
  if (select && list.some((m) => m.id === select)) $("model").value = select;
  modelChanged();
}

function modelChanged() {
  const name = $("model").value;
  $("card-link").href = `/models/${encodeURIComponent(name)}/card`;
}
$("model").onchange = modelChanged;

function shareUrl(text) {
  const label = `${text}\n\n🤖 AI-generated by a tweettwin model, not written by a person`;
  return `https://twitter.com/intent/tweet?text=${encodeURIComponent(label)}`;
}

async function copy(text, button) {
  try { await navigator.clipboard.writeText(text); }
  catch (e) {
    const area = document.createElement("textarea");
    area.value = text; document.body.appendChild(area); area.select();
    document.execCommand("copy"); area.remove();
  }
  button.textContent = "Copied";
  setTimeout(() => (button.textContent = "Copy"), 1500);
}

async function usePreview(text, button) {
  await busy(button, null, async () => {
    const name = $("model").value;
    const r = await call("POST", `/api/models/${encodeURIComponent(name)}/preview`, { text });
    $("preview").src = `${r.url}?t=${Date.now()}`;
    $("preview-box").hidden = false;
  });
}

$("generate").onclick = () => busy($("generate"), $("writing"), async () => {
  const model = $("model").value, prompt = $("prompt").value;
  const r = await call("POST", "/v1/completions", { model, prompt, n: 10, max_tokens: null, echo: true });
  const list = $("generated");
  list.innerHTML = "";
  for (const choice of r.choices) {
    const li = document.createElement("li");
    li.innerHTML = `<span class="text"></span><div class="actions">
      <button class="small copy">Copy</button>
      <a class="share" target="_blank" rel="noopener">Share (labelled AI-generated)</a>
      <button class="small use-preview">Use as preview</button></div>`;
    li.querySelector(".text").textContent = choice.text;
    li.querySelector(".share").href = shareUrl(choice.text);
    li.querySelector(".copy").onclick = (ev) => copy(choice.text, ev.target);
    li.querySelector(".use-preview").onclick = (ev) => usePreview(choice.text, ev.target);
    list.appendChild(li);
  }
  const dropped = r.novelty && r.novelty.dropped;
  $("gen-note").textContent = `${r.choices.length} posts` + (dropped ? `; ${dropped} samples were dropped as copies of real posts` : "") + ".";
});

function esc(s) { return String(s).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]); }

// ---------------------------------------------------------------- on load
(async () => {
  try {
    await loadModels();
    const current = await call("GET", "/api/jobs/current").catch((e) => { if (e.status === 404) return null; throw e; });
    if (current) {
      job = current; points = [];
      (current.events || []).forEach(onEvent);
      showJob();
      if (current.status === "running") watch(current);
    }
  } catch (e) { showError(e.message); }
})();
