// The side panels: the server's health, the latency of recent turns, the history of
// conversations and the settings.
import { attachMicrophone, startMicrophone } from "/static/audio.js";
import { api } from "/static/credentials.js";
import { sendSessionUpdate } from "/static/link.js";
import { $, notice, state } from "/static/page.js";

export async function pollHealth() {
  try {
    showHealth(await api("/v1/monitor"));
  } catch (error) {
    $("health-note").textContent = `Health: ${error.message}`;
  }
}
export function showHealth(health) {
  state.health = health;
  const stages = health.stages || {};
  const v2v = stages.voice_to_voice_ms;
  $("health-v2v").textContent = v2v ? `${Math.round(v2v.median)} / ${Math.round(v2v.p90)} ms` : "–";
  const tps = stages.llm_tokens_per_s;
  $("health-tps").textContent = tps ? `${tps.median} tok/s` : "–";
  const stt = stages.stt_rtf, tts = stages.tts_rtf;
  $("health-rtf").textContent = stt || tts ? `${stt ? stt.median : "–"} · ${tts ? tts.median : "–"}` : "–";
  const r = health.resources;
  $("health-resources").textContent = r ? `${Math.round(r.cpu_percent)} % · ${Math.round(r.rss_mb)} MB` : "–";
  const alerts = $("health-alerts");
  alerts.textContent = "";
  for (const alert of health.alerts) {
    const item = alerts.appendChild(document.createElement("li"));
    item.textContent = `${alert.name}: ${alert.message}`;
  }
  if (!health.alerts.length) {
    const item = alerts.appendChild(document.createElement("li"));
    item.className = "none";
    item.textContent = "No alerts";
  }
  const advice = $("health-advice");
  advice.textContent = "";
  for (const tip of health.advice) advice.appendChild(document.createElement("li")).textContent = tip.text;
  $("health-note").textContent = `${health.turns} turn(s) in the last ${Math.round(health.window_s / 60)} min, ${health.sessions} session(s) open.`;
}

// ---- latency panel ------------------------------------------------------------------------
export function recordLatency(metadata) {
  const figure = (name) => (metadata[name] !== undefined && metadata[name] !== "None" ? Math.round(Number(metadata[name])) : null);
  const turn = { v2v: figure("voice_to_voice_ms"), stt: figure("stt_ms"), ttft: figure("llm_ttft_ms"), tts: figure("tts_first_audio_ms"), transport: state.link?.kind || "" };
  state.turns.push(turn);
  const show = (id, value) => { $(id).textContent = value === null ? "–" : `${value} ms`; };
  show("fig-v2v", turn.v2v); show("fig-stt", turn.stt); show("fig-ttft", turn.ttft); show("fig-tts", turn.tts);
  // Each transport's median voice to voice, so a WebRTC call and a socket can be compared.
  const median = (values) => { const v = [...values].sort((a, b) => a - b); return v.length ? v[Math.floor(v.length / 2)] : null; };
  $("fig-transports").textContent = ["webrtc", "websocket"].map((kind) => {
    const values = state.turns.filter((t) => t.transport === kind && t.v2v !== null).map((t) => t.v2v);
    return values.length ? `${kind === "webrtc" ? "WebRTC" : "WebSocket"}: ${median(values)} ms median of ${values.length}` : null;
  }).filter(Boolean).join(" · ");
  drawGraph();
}
export function drawGraph() {
  const canvas = $("graph");
  const g = canvas.getContext("2d");
  const turns = state.turns.filter((t) => t.v2v !== null).slice(-12);
  g.clearRect(0, 0, canvas.width, canvas.height);
  const top = Math.max(1000, ...turns.map((t) => t.v2v));
  const scale = (canvas.height - 16) / top;
  const target = canvas.height - 500 * scale;
  g.strokeStyle = "#9aa6bd"; g.setLineDash([4, 4]); g.beginPath(); g.moveTo(0, target); g.lineTo(canvas.width, target); g.stroke(); g.setLineDash([]);
  const width = canvas.width / 12;
  turns.forEach((t, i) => {
    const height = t.v2v * scale;
    g.fillStyle = t.v2v <= 500 ? "#54d38a" : t.v2v <= 1000 ? "#ffd35c" : "#ff6b6b";
    g.fillRect(i * width + 4, canvas.height - height, width - 8, height);
  });
}

// ---- history and settings -----------------------------------------------------------------
export async function loadHistory() {
  const list = $("conversations");
  list.textContent = "";
  const { data } = await api("/api/conversations");
  for (const conversation of data) {
    const item = document.createElement("li");
    const open = document.createElement("button");
    open.className = "open";
    open.textContent = `${new Date(conversation.created_at * 1000).toLocaleString()} — ${conversation.title || "(no words)"}`;
    open.onclick = () => showConversation(conversation.id);
    const remove = document.createElement("button");
    remove.className = "delete";
    remove.textContent = "Delete";
    remove.setAttribute("aria-label", `Delete conversation from ${open.textContent}`);
    remove.onclick = async () => { await api(`/api/conversations/${encodeURIComponent(conversation.id)}`, { method: "DELETE" }); loadHistory(); };
    item.append(open, remove);
    list.appendChild(item);
  }
}
export async function showConversation(id) {
  const view = $("conversation-view");
  const conversation = await api(`/api/conversations/${encodeURIComponent(id)}`);
  view.textContent = "";
  for (const message of conversation.messages) {
    const line = document.createElement("p");
    line.textContent = `${message.role === "user" ? "You" : "Parley"}: ${message.content}${message.is_interrupted ? " (interrupted)" : ""}`;
    view.appendChild(line);
  }
}
export async function loadPreferences() {
  try {
    state.prefs = await api("/api/preferences");
  } catch (error) {
    console.warn("preferences", error);
  }
  const form = $("settings-form");
  try {
    const { default: configured, data } = await api("/api/voices");
    const select = form.elements.voice;
    select.textContent = "";
    select.appendChild(new Option(`Default (${configured})`, ""));
    for (const voice of data) select.appendChild(new Option(`${voice.name} — ${voice.description}`, voice.name));
  } catch (error) {
    console.warn("voices", error);
  }
  for (const [name, value] of Object.entries(state.prefs)) if (form.elements[name]) form.elements[name].value = value;
  form.elements["speed-out"].value = `${state.prefs.speed}×`;
  form.elements["vad-out"].value = state.prefs.vad_threshold;
}
export async function savePreferences(event) {
  event.preventDefault();
  const form = event.target;
  const prefs = {
    mode: form.elements.mode.value, transport: form.elements.transport.value, speed: Number(form.elements.speed.value),
    vad_threshold: Number(form.elements.vad_threshold.value), end_silence_ms: Number(form.elements.end_silence_ms.value),
    instructions: form.elements.instructions.value, input_device_id: form.elements.input_device_id.value,
    voice: form.elements.voice.value,
  };
  const deviceChanged = prefs.input_device_id !== state.prefs.input_device_id;
  const transportChanged = prefs.transport !== state.prefs.transport;
  state.prefs = await api("/api/preferences", { method: "PUT", body: JSON.stringify(prefs) });
  $("settings-saved").textContent = "Saved";
  setTimeout(() => { $("settings-saved").textContent = ""; }, 2000);
  sendSessionUpdate();
  if (deviceChanged && state.micStream) {
    state.micStream.getTracks().forEach((track) => track.stop());
    state.mic = null;
    await startMicrophone();
    attachMicrophone();
  }
  if (transportChanged) state.link?.close(); // reconnects on the chosen transport
}
export async function listDevices() {
  const select = $("settings-form").elements.input_device_id;
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  select.textContent = "";
  select.appendChild(new Option("Default", ""));
  for (const device of devices) if (device.deviceId && device.deviceId !== "default") select.appendChild(new Option(device.label || "Microphone", device.deviceId));
  select.value = state.prefs.input_device_id || "";
}
export function togglePanel(name) {
  for (const tab of document.querySelectorAll(".tab")) {
    const open = tab.dataset.panel === name && tab.getAttribute("aria-expanded") !== "true";
    tab.setAttribute("aria-expanded", String(open));
    $(tab.dataset.panel).hidden = !open;
    if (open && name === "history") loadHistory().catch((error) => notice(`History: ${error.message}`));
  }
}
