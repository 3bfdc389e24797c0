// Parley's browser client: the OpenAI Realtime protocol over a WebRTC call (or, as the settings
// choose, a WebSocket with a microphone through an AudioWorklet and gapless playback through
// another), interruption, history, settings, latency, a waveform of both voices, the reply's
// words lit as they are heard, and the server's health.
import { openCall, openSocket } from "/static/call.js";

const RATE = 24000;
const $ = (id) => document.getElementById(id);
const state = {
  link: null, ctx: null, mic: null, micStream: null, player: null, voiceTap: null,
  wantConnected: false, reconnectDelayMs: 500, conversationId: null, listening: false,
  prefs: { mode: "hands_free", transport: "webrtc", speed: 1, vad_threshold: 0.5, end_silence_ms: 500, instructions: "", input_device_id: "", voice: "" },
  // On a call, the reply plays from its track: since when it plays (output_audio_buffer.started).
  playingSince: null,
  voice: null, // the voice the server says this session speaks with
  // The response on screen, and its bubble and the one before (a superseded response may end
  // after its successor began).
  responseId: null, bubbleOf: {},
  responseActive: false, audioItemId: null, audioItemStartPlayed: 0, played: 0, buffered: 0, playing: false,
  userBubble: null, assistantBubble: null, pushToTalkHeld: false, turns: [], playedTotal: 0, errors: [],
  // The reply being played: its words so far and the samples received for them.
  reply: { text: "", samples: 0 }, health: null,
  // What the microphone has given so far: its loudest sample and the frames sent (for the tests).
  micPeakSeen: 0, framesSent: 0, recentEvents: [],
};
// The waveform's columns (one per 50 ms), oldest first: microphone and Parley's voice peaks.
const WAVE_COLUMNS = 120;
const wave = { mic: new Array(WAVE_COLUMNS).fill(0), voice: new Array(WAVE_COLUMNS).fill(0), micPeak: 0, voicePeak: 0 };
// Credentials live here, not in `state`: `state` is shown as window.parley (for devtools and the
// browser tests), and a page must not expose what opens the API.
const credentials = { loginCode: null, signIn: null, clientSecret: null };
window.parley = state;

function status(text, kind = "") {
  const element = $("status");
  element.textContent = text;
  element.className = `status ${kind}`;
}
function notice(text) {
  const element = $("notice");
  element.textContent = text || "";
  element.hidden = !text;
  if (text) state.errors.push(text);
}
// A timer or reminder went off: said aloud, shown on the page, and notified by the browser
// when the page is not in front (if the user allowed notifications).
function timerNotice(text) {
  const element = $("notice");
  element.textContent = `⏰ ${text}`;
  element.hidden = false;
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification("Parley", { body: text });
  }
}

// ---- credentials --------------------------------------------------------------------------
function readLoginCode() {
  const params = new URLSearchParams(location.search);
  credentials.loginCode = params.get("login");
  if (credentials.loginCode) history.replaceState(null, "", location.pathname); // one use; out of the address bar
  credentials.signIn = sessionStorage.getItem("parley-sign-in");
}
const SIGNED_OUT = "Sign in again: run `parley login` on the server's machine and open the address it prints.";
async function post(path, token, body) {
  try {
    return await fetch(path, {
      method: "POST", headers: { ...(token ? { Authorization: `Bearer ${token}` } : {}), "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch (error) {
    throw Object.assign(new Error("Parley's server is not reachable. Is `make run` still running?"), { retry: true });
  }
}
async function signIn() {
  // A one-time login code becomes a browser sign-in token (kept for this tab only).
  const response = await post("/v1/login", null, { code: credentials.loginCode });
  credentials.loginCode = null;
  if (response.status === 401) {
    const reason = (await response.json().catch(() => ({})))?.error?.message || "the login code was refused";
    throw Object.assign(new Error(`The login address was refused (${reason}). ${SIGNED_OUT}`), { retry: false });
  }
  if (!response.ok) throw Object.assign(new Error(`The server answered ${response.status}.`), { retry: true });
  credentials.signIn = (await response.json()).value;
  sessionStorage.setItem("parley-sign-in", credentials.signIn);
}
async function mintToken() {
  if (credentials.loginCode) await signIn();
  const response = await post("/v1/realtime/client_secrets", credentials.signIn, {});
  if (response.status === 401) {
    sessionStorage.removeItem("parley-sign-in");
    credentials.signIn = null;
    throw Object.assign(new Error(`The sign-in was refused or has expired. ${SIGNED_OUT}`), { retry: false });
  }
  if (!response.ok) throw Object.assign(new Error(`The server answered ${response.status}.`), { retry: true });
  credentials.clientSecret = (await response.json()).value;
}
async function api(path, options = {}, isRetry = false) {
  const response = await fetch(path, { ...options, headers: { Authorization: `Bearer ${credentials.clientSecret}`, "Content-Type": "application/json", ...(options.headers || {}) } });
  if (response.status === 401 && !isRetry) { // client secrets are short-lived: mint another once
    await mintToken();
    return api(path, options, true);
  }
  if (!response.ok) throw new Error(`${path}: ${response.status}`);
  return response.json();
}

// ---- the socket ---------------------------------------------------------------------------
async function connect() {
  state.wantConnected = true;
  if (!credentials.signIn && !credentials.loginCode) {
    status("Not signed in", "bad");
    notice("Open the address that `make run` printed (or run `parley login` for a new one): it signs this page in.");
    return;
  }
  status("Connecting…", "warn");
  try {
    await mintToken();
  } catch (error) {
    notice(error.message);
    status(error.retry ? "Server unreachable" : "Signed out", "bad");
    if (error.retry) scheduleReconnect();
    return;
  }
  const query = state.conversationId ? `?conversation=${encodeURIComponent(state.conversationId)}` : "";
  const handlers = { query, clientSecret: credentials.clientSecret, onOpen: linkOpened, onEvent: handleEvent, onClose: linkClosed, onVoice: attachVoice };
  try {
    state.link = state.prefs.transport === "websocket" ? openSocket(handlers) : await openCall(handlers);
  } catch (error) {
    notice(error.message);
    status("Call failed", "bad");
    state.link = null;
    if (error.retry !== false) scheduleReconnect();
  }
}
function linkOpened(link) {
  if (state.link !== link) return;
  state.reconnectDelayMs = 500;
  notice("");
  status("Connected", "ok");
  $("status").title = link.kind === "webrtc" ? "A WebRTC call" : "A WebSocket";
  sendSessionUpdate();
  attachMicrophone();
}
function linkClosed(link) {
  if (state.link !== link) return;
  state.link = null;
  state.responseActive = false;
  if (state.wantConnected) scheduleReconnect();
}
function scheduleReconnect() {
  const delay = state.reconnectDelayMs;
  state.reconnectDelayMs = Math.min(delay * 2, 8000);
  status(`Connection lost — reconnecting in ${(delay / 1000).toFixed(1)} s`, "warn");
  setTimeout(() => { if (state.wantConnected && !state.link) connect(); }, delay);
}
function send(event) {
  state.link?.send(event);
}
const onCall = () => state.link?.kind === "webrtc";
function sendSessionUpdate() {
  const p = state.prefs;
  send({
    type: "session.update",
    session: {
      type: "realtime",
      instructions: p.instructions || undefined,
      audio: {
        input: {
          format: { type: "audio/pcm", rate: RATE },
          turn_detection: p.mode === "hands_free"
            ? { type: "semantic_vad", threshold: Number(p.vad_threshold), silence_duration_ms: Number(p.end_silence_ms), create_response: true, interrupt_response: true }
            : null,
        },
        output: { format: { type: "audio/pcm", rate: RATE }, speed: Number(p.speed), voice: p.voice || undefined },
      },
    },
  });
  $("mode-label").textContent = p.mode === "hands_free" ? "Hands-free" : "Push to talk: hold Space or the button";
}

// ---- server events ------------------------------------------------------------------------
function bubble(role, text = "") {
  $("hint")?.remove();
  const item = document.createElement("li");
  item.className = role;
  item.textContent = text;
  $("transcript").appendChild(item);
  item.scrollIntoView({ block: "end" });
  return item;
}
function handleEvent(event) {
  state.recentEvents.push(event.type); // the last few, for the browser tests' diagnostics
  if (state.recentEvents.length > 40) state.recentEvents.shift();
  switch (event.type) {
    case "session.created":
      state.conversationId = event.session.conversation_id || state.conversationId;
      state.voice = event.session.audio?.output?.voice || null;
      break;
    case "session.updated":
      state.voice = event.session.audio?.output?.voice || null;
      break;
    case "input_audio_buffer.speech_started":
      // The user talks over Parley. On a call the server holds its track silent and decides
      // (a cough plays on); a socket's client silences its own playback and says what was heard.
      if (!onCall()) stopPlayback(false);
      state.userBubble = bubble("user partial", "…");
      break;
    case "conversation.item.input_audio_transcription.delta":
      if (!state.userBubble) state.userBubble = bubble("user partial");
      state.userBubble.textContent = event.delta;
      break;
    case "conversation.item.input_audio_transcription.completed":
      if (!state.userBubble) state.userBubble = bubble("user");
      state.userBubble.className = "user";
      state.userBubble.textContent = event.transcript || "(nothing heard)";
      state.userBubble = null;
      break;
    case "response.created":
      state.responseId = event.response.id;
      state.responseActive = true;
      state.isTimerReply = event.response.metadata?.reason === "timer";
      state.assistantBubble = bubble(state.isTimerReply ? "assistant timer" : "assistant");
      state.bubbleOf = { [event.response.id]: state.assistantBubble, ...(state.responseId ? { [state.responseId]: state.bubbleOf[state.responseId] } : {}) };
      state.reply = { text: "", samples: 0 };
      state.audioBubble = state.assistantBubble; // stays set while its audio may still be playing
      $("interrupt").disabled = false;
      break;
    case "response.output_item.added":
      state.audioItemId = event.item.id;
      state.audioItemStarted = false;
      break;
    case "response.output_audio_transcript.delta":
    case "response.output_text.delta":
      if (state.assistantBubble) {
        state.reply.text += event.delta;
        showReplyWords();
      }
      break;
    case "response.output_audio.delta":
      playDelta(event.delta);
      break;
    case "response.output_audio.done":
      state.player?.port.postMessage({ type: "flush" });
      break;
    case "output_audio_buffer.started": // a call's track began to play a reply
      state.reply.isVoiced = true;
      state.playingSince = performance.now();
      state.playing = true;
      state.played = 0;
      $("interrupt").disabled = false;
      break;
    case "output_audio_buffer.stopped":
    case "output_audio_buffer.cleared":
      callPlaybackEnded(event.type === "output_audio_buffer.stopped");
      break;
    case "response.done":
      // A response superseded by a newer one may end after the newer began: it is not the
      // one on screen, and must not mark that one interrupted or end it.
      if (state.responseId && event.response.id !== state.responseId) {
        if (event.response.status === "cancelled") state.bubbleOf[event.response.id]?.classList.add("interrupted");
        break;
      }
      state.responseActive = false;
      if (onCall() && event.response.status === "cancelled" && state.assistantBubble) {
        // The call's track counted what it played: the server's transcript is what was heard.
        const heard = event.response.output?.[0]?.content?.[0]?.transcript;
        if (typeof heard === "string") state.reply.heardChars = heard.length;
        showReplyWords();
      } else if (state.reply.samples === 0 && !state.reply.isVoiced && state.assistantBubble) showReplyWords(true); // text only: all shown
      if (event.response.status === "cancelled" && state.assistantBubble) state.assistantBubble.classList.add("interrupted");
      if (state.isTimerReply) timerNotice(state.reply.text);
      else if (event.response.metadata) recordLatency(event.response.metadata);
      state.assistantBubble = null;
      $("interrupt").disabled = !state.playing;
      break;
    case "error":
      console.warn("Parley:", event.error);
      if (event.error.code !== "response_cancel_not_active") notice(`Parley: ${event.error.message}`);
      break;
  }
}

// ---- audio --------------------------------------------------------------------------------
async function ensureAudio() {
  if (state.ctx) {
    await state.ctx.resume();
    return;
  }
  const ctx = new AudioContext({ sampleRate: RATE });
  state.ctx = ctx;
  await ctx.audioWorklet.addModule("/static/mic-worklet.js");
  await ctx.audioWorklet.addModule("/static/player-worklet.js");
  const player = new AudioWorkletNode(ctx, "player", { outputChannelCount: [1] });
  player.port.onmessage = (event) => {
    if (onCall()) return; // a call's reply plays from its track, not from this player
    state.played = event.data.played;
    state.buffered = event.data.buffered;
    state.playing = event.data.playing;
    wave.voicePeak = Math.max(wave.voicePeak, event.data.peak || 0);
    $("interrupt").disabled = !(state.playing || state.responseActive);
    showReplyWords();
  };
  player.connect(ctx.destination);
  state.player = player;
}
async function startMicrophone() {
  const constraints = { audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 } };
  if (state.prefs.input_device_id) constraints.audio.deviceId = { exact: state.prefs.input_device_id };
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia(constraints);
  } catch (error) {
    notice(error.name === "NotAllowedError"
      ? "Microphone access was denied. Allow it in the address bar's site settings, then press Start talking again."
      : `The microphone could not start: ${error.message}`);
    return false;
  }
  state.micStream = stream;
  const mic = new AudioWorkletNode(state.ctx, "mic-capture", { numberOfOutputs: 0 });
  mic.port.onmessage = (event) => onMicFrame(event.data.samples, event.data.rms);
  state.ctx.createMediaStreamSource(stream).connect(mic);
  state.mic = mic;
  listDevices();
  return true;
}
function onMicFrame(samples, rms) {
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
  wave.micPeak = Math.max(wave.micPeak, peak);
  state.micPeakSeen = Math.max(state.micPeakSeen, peak);
  if (!state.listening) return;
  if (state.prefs.mode === "push_to_talk" && !state.pushToTalkHeld) return;
  state.framesSent += 1;
  if (onCall()) return; // the call's track carries the microphone
  const pcm = new Int16Array(samples.length);
  for (let i = 0; i < samples.length; i++) pcm[i] = Math.max(-32768, Math.min(32767, Math.round(samples[i] * 32767)));
  send({ type: "input_audio_buffer.append", audio: toBase64(pcm.buffer) });
}
function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
function playDelta(base64) {
  const binary = atob(base64);
  const pcm = new Int16Array(binary.length / 2);
  for (let i = 0; i < pcm.length; i++) pcm[i] = (binary.charCodeAt(2 * i) | (binary.charCodeAt(2 * i + 1) << 8)) << 16 >> 16;
  const samples = new Float32Array(pcm.length);
  for (let i = 0; i < pcm.length; i++) samples[i] = pcm[i] / 32768;
  if (!state.audioItemStarted) {
    state.audioItemStarted = true;
    state.player.port.postMessage({ type: "reset-count" });
    state.played = 0;
  }
  state.playedTotal += samples.length;
  state.reply.samples += samples.length;
  state.player.port.postMessage({ type: "push", samples }, [samples.buffer]);
}
function stopPlayback(cancelResponse) {
  if (onCall()) {
    if (cancelResponse && state.responseActive) send({ type: "response.cancel" });
    if (state.playing || state.responseActive) send({ type: "output_audio_buffer.clear" });
    $("interrupt").disabled = true;
    return;
  }
  const wasPlaying = state.playing || state.buffered > 0;
  state.player?.port.postMessage({ type: "clear" });
  if (cancelResponse && state.responseActive) send({ type: "response.cancel" });
  if (wasPlaying && state.audioItemId) {
    send({ type: "conversation.item.truncate", item_id: state.audioItemId, content_index: 0, audio_end_ms: Math.round((state.played / RATE) * 1000) });
    state.audioBubble?.classList.add("interrupted");
  }
  state.playing = false;
  $("interrupt").disabled = true;
}

// The reply's words as they are heard: the share of its words lit is the share of its received
// audio played (text arrives a sentence ahead of its audio, so this tracks the voice to within a
// few words). An interrupted reply keeps lit only what was heard.
function showReplyWords(isAllSpoken = false) {
  const item = state.audioBubble;
  if (!item) return;
  const text = state.reply.text;
  const share = isAllSpoken ? 1 : onCall() ? callShare(text) : state.reply.samples ? Math.min(1, state.played / state.reply.samples) : 0;
  let cut = Math.round(text.length * share);
  if (cut < text.length) cut = Math.max(0, text.lastIndexOf(" ", cut));
  if (state.reply.heardChars !== undefined) cut = state.reply.heardChars; // the server's account
  let spoken = item.querySelector(".spoken");
  let unspoken = item.querySelector(".unspoken");
  if (!spoken) {
    item.textContent = "";
    spoken = item.appendChild(document.createElement("span"));
    spoken.className = "spoken";
    unspoken = item.appendChild(document.createElement("span"));
    unspoken.className = "unspoken";
  }
  spoken.textContent = text.slice(0, cut);
  unspoken.textContent = text.slice(cut);
}

// ---- a call's audio -----------------------------------------------------------------------
// The call's microphone is the same stream the waveform shows, sent only while listening (and,
// in push-to-talk, while held).
function attachMicrophone() {
  if (!state.link || !state.micStream) return;
  const isSending = state.listening && (state.prefs.mode === "hands_free" || state.pushToTalkHeld);
  state.link.setMicrophone(isSending ? state.micStream.getAudioTracks()[0] : null);
}
function attachVoice(stream) {
  const voice = $("voice");
  voice.srcObject = stream;
  voice.play().catch(() => {}); // autoplay waits for the page's first click
  state.voiceStream = stream;
  state.voiceTap = null; // tapped for the waveform once the audio context exists
}
function callPlaybackEnded(isWhole) {
  if (state.playingSince !== null) {
    const played = Math.round(((performance.now() - state.playingSince) / 1000) * RATE);
    state.played = played;
    state.playedTotal += played;
  }
  state.playingSince = null;
  state.playing = false;
  if (isWhole) showReplyWords(true);
  $("interrupt").disabled = !state.responseActive;
}
// A call's track does not say how far it has played, only when it starts and stops: the words
// are lit at a speaking pace from the start, all of them when it stops, and an interrupted
// reply shows the server's own account of what was heard.
const WORDS_PER_S = 2.7;
function callShare(text) {
  if (state.playingSince === null) return 0;
  const words = text.split(/\s+/).filter(Boolean).length || 1;
  const seconds = (performance.now() - state.playingSince) / 1000;
  return Math.min(0.95, (seconds * WORDS_PER_S * Number(state.prefs.speed || 1)) / words);
}
function voicePeak() {
  if (!state.voiceStream || !state.ctx) return 0;
  if (!state.voiceTap) {
    state.voiceTap = state.ctx.createAnalyser();
    state.voiceTap.fftSize = 1024;
    state.ctx.createMediaStreamSource(state.voiceStream).connect(state.voiceTap);
  }
  const samples = new Float32Array(state.voiceTap.fftSize);
  state.voiceTap.getFloatTimeDomainData(samples);
  let peak = 0;
  for (let i = 0; i < samples.length; i++) peak = Math.max(peak, Math.abs(samples[i]));
  return peak;
}

// ---- waveform -----------------------------------------------------------------------------
function tickWave() {
  if (onCall()) {
    wave.voicePeak = Math.max(wave.voicePeak, voicePeak());
    if (state.playing) showReplyWords();
  }
  wave.mic.push(wave.micPeak); wave.mic.shift();
  wave.voice.push(wave.voicePeak); wave.voice.shift();
  wave.micPeak = 0; wave.voicePeak = 0;
  const canvas = $("wave");
  const g = canvas.getContext("2d");
  const middle = canvas.height / 2;
  const width = canvas.width / WAVE_COLUMNS;
  g.clearRect(0, 0, canvas.width, canvas.height);
  g.fillStyle = "#26304a"; g.fillRect(0, middle, canvas.width, 1);
  for (let i = 0; i < WAVE_COLUMNS; i++) {
    const mic = Math.min(1, wave.mic[i] * 1.5) * (middle - 2);
    const voice = Math.min(1, wave.voice[i] * 1.5) * (middle - 2);
    g.fillStyle = "#5eb1ff"; g.fillRect(i * width, middle - mic, Math.max(1, width - 1), mic);
    g.fillStyle = "#54d38a"; g.fillRect(i * width, middle + 1, Math.max(1, width - 1), voice);
  }
}

// ---- health panel -------------------------------------------------------------------------
async function pollHealth() {
  try {
    showHealth(await api("/v1/monitor"));
  } catch (error) {
    $("health-note").textContent = `Health: ${error.message}`;
  }
}
function showHealth(health) {
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

// ---- latency panel ------------------------------------------------------------------------
function recordLatency(metadata) {
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
function drawGraph() {
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
async function loadHistory() {
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
async function showConversation(id) {
  const view = $("conversation-view");
  const conversation = await api(`/api/conversations/${encodeURIComponent(id)}`);
  view.textContent = "";
  for (const message of conversation.messages) {
    const line = document.createElement("p");
    line.textContent = `${message.role === "user" ? "You" : "Parley"}: ${message.content}${message.is_interrupted ? " (interrupted)" : ""}`;
    view.appendChild(line);
  }
}
async function loadPreferences() {
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
async function savePreferences(event) {
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
async function listDevices() {
  const select = $("settings-form").elements.input_device_id;
  const devices = (await navigator.mediaDevices.enumerateDevices()).filter((d) => d.kind === "audioinput");
  select.textContent = "";
  select.appendChild(new Option("Default", ""));
  for (const device of devices) if (device.deviceId && device.deviceId !== "default") select.appendChild(new Option(device.label || "Microphone", device.deviceId));
  select.value = state.prefs.input_device_id || "";
}
function togglePanel(name) {
  for (const tab of document.querySelectorAll(".tab")) {
    const open = tab.dataset.panel === name && tab.getAttribute("aria-expanded") !== "true";
    tab.setAttribute("aria-expanded", String(open));
    $(tab.dataset.panel).hidden = !open;
    if (open && name === "history") loadHistory().catch((error) => notice(`History: ${error.message}`));
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
