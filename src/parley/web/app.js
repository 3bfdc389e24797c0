// Parley's browser client: the OpenAI Realtime protocol over a WebRTC call (or, as the settings
// choose, a WebSocket with a microphone through an AudioWorklet and gapless playback through
// another), interruption, history, settings, latency, a waveform of both voices, the reply's
// words lit as they are heard, and the server's health.
import { attachMicrophone, ensureAudio, startMicrophone, stopPlayback, tickWave } from "/static/audio.js";
import { credentials, readLoginCode } from "/static/credentials.js";
import { connect, send, sendSessionUpdate } from "/static/link.js";
import { $, onCall, state } from "/static/page.js";
import { loadPreferences, pollHealth, savePreferences, togglePanel } from "/static/panels.js";

// ---- controls -----------------------------------------------------------------------------
async function toggleListening() {
  const button = $("talk");
  if (state.listening) {
    state.listening = false;
    attachMicrophone();
    button.textContent = "Start talking";
    button.setAttribute("aria-pressed", "false");
    return;
  }
  await ensureAudio();
  if (!state.mic && !(await startMicrophone())) return;
  state.listening = true;
  attachMicrophone();
  $("voice").play().catch(() => {});
  // Asked on the user's click, and only once the microphone is on: a browser queues one
  // permission request behind another, and the microphone's must never wait.
  if ("Notification" in window && Notification.permission === "default") {
    Notification.requestPermission().catch(() => {}); // for timers that go off while away
  }
  button.textContent = state.prefs.mode === "hands_free" ? "Listening — click to pause" : "Hold to talk";
  button.setAttribute("aria-pressed", "true");
}
function pushToTalk(down) {
  if (state.prefs.mode !== "push_to_talk" || !state.listening) return;
  if (down && !state.pushToTalkHeld) {
    stopPlayback(true);
    state.pushToTalkHeld = true;
    if (onCall()) send({ type: "input_audio_buffer.clear" });
    attachMicrophone();
  } else if (!down && state.pushToTalkHeld) {
    state.pushToTalkHeld = false;
    attachMicrophone();
    send({ type: "input_audio_buffer.commit" });
    send({ type: "response.create" });
  }
}

// ---- start --------------------------------------------------------------------------------
window.addEventListener("DOMContentLoaded", async () => {
  readLoginCode();
  $("talk").addEventListener("click", () => { if (state.prefs.mode === "hands_free") toggleListening(); });
  $("talk").addEventListener("pointerdown", async () => { if (state.prefs.mode === "push_to_talk") { if (!state.listening) await toggleListening(); pushToTalk(true); } });
  $("talk").addEventListener("pointerup", () => pushToTalk(false));
  $("interrupt").addEventListener("click", () => stopPlayback(true));
  $("new-conversation").addEventListener("click", () => { state.conversationId = null; state.link?.close(); $("transcript").textContent = ""; });
  for (const tab of document.querySelectorAll(".tab")) tab.addEventListener("click", () => togglePanel(tab.dataset.panel));
  $("settings-form").addEventListener("submit", savePreferences);
  $("settings-form").elements.speed.addEventListener("input", (e) => { e.target.form.elements["speed-out"].value = `${e.target.value}×`; });
  $("settings-form").elements.vad_threshold.addEventListener("input", (e) => { e.target.form.elements["vad-out"].value = e.target.value; });
  document.addEventListener("keydown", (event) => {
    if (event.key === "Escape") stopPlayback(true);
    if (event.code === "Space" && event.target === document.body) { event.preventDefault(); pushToTalk(true); }
  });
  document.addEventListener("keyup", (event) => { if (event.code === "Space" && event.target === document.body) pushToTalk(false); });
  setInterval(tickWave, 50);
  await connect();
  if (credentials.clientSecret) {
    await loadPreferences();
    // The first connection was made before the settings were read: the chosen transport wins.
    if (state.link && state.link.kind !== (state.prefs.transport || "webrtc")) state.link.close();
    pollHealth();
    setInterval(pollHealth, 5000);
  }
  if (state.link?.isOpen()) sendSessionUpdate();
});
