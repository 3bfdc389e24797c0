// The page's audio: the microphone through an AudioWorklet, a socket's reply through a gapless
// player, a call's reply from its track, stopping playback, and the waveform of both voices.
import { showReplyWords } from "/static/conversation.js";
import { send } from "/static/link.js";
import { listDevices } from "/static/panels.js";
import { $, RATE, WAVE_COLUMNS, notice, onCall, state, wave } from "/static/page.js";

export async function ensureAudio() {
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
export async function startMicrophone() {
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
  mic.port.onmessage = (event) => onMicFrame(event.data.samples);
  state.ctx.createMediaStreamSource(stream).connect(mic);
  state.mic = mic;
  listDevices();
  return true;
}
export function onMicFrame(samples) {
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
export function toBase64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}
export function playDelta(base64) {
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
export function stopPlayback(cancelResponse) {
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

// ---- a call's audio -----------------------------------------------------------------------
// The call's microphone is the same stream the waveform shows, sent only while listening (and,
// in push-to-talk, while held).
export function attachMicrophone() {
  if (!state.link || !state.micStream) return;
  const isSending = state.listening && (state.prefs.mode === "hands_free" || state.pushToTalkHeld);
  state.link.setMicrophone(isSending ? state.micStream.getAudioTracks()[0] : null);
}
export function attachVoice(stream) {
  const voice = $("voice");
  voice.srcObject = stream;
  voice.play().catch(() => {}); // autoplay waits for the page's first click
  state.voiceStream = stream;
  state.voiceTap = null; // tapped for the waveform once the audio context exists
}
export function callPlaybackEnded(isWhole) {
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
export const WORDS_PER_S = 2.7;
export function callShare(text) {
  if (state.playingSince === null) return 0;
  const words = text.split(/\s+/).filter(Boolean).length || 1;
  const seconds = (performance.now() - state.playingSince) / 1000;
  return Math.min(0.95, (seconds * WORDS_PER_S * Number(state.prefs.speed || 1)) / words);
}
export function voicePeak() {
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
export function tickWave() {
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
