// What every part of the page shares: the state shown as window.parley (for devtools and the
// browser tests), the waveform's peaks, and the status line and notices.

export const RATE = 24000;
export const $ = (id) => document.getElementById(id);
export const state = {
  link: null, ctx: null, mic: null, micStream: null, player: null, voiceTap: null,
  wantConnected: false, reconnectDelayMs: 500, conversationId: null, listening: false,
  prefs: { mode: "hands_free", transport: "webrtc", speed: 1, vad_threshold: 0.5, end_silence_ms: 500, instructions: "", input_device_id: "", voice: "" },
  // On a call, the reply plays from its track: since when it plays (output_audio_buffer.started).
  playingSince: null,
  voice: null, // the voice the server says this session speaks with
  // The response on screen, and its bubble and the one before (a superseded response may end
  // after its successor began).
  responseId: null, bubbleOf: {},
  // A reply item's bubble by its item id, for the server's conversation.item.truncated.
  bubbleOfItem: {},
  responseActive: false, audioItemId: null, audioItemStartPlayed: 0, played: 0, buffered: 0, playing: false,
  userBubble: null, assistantBubble: null, pushToTalkHeld: false, turns: [], playedTotal: 0, errors: [],
  // The reply being played: its words so far and the samples received for them.
  reply: { text: "", samples: 0 }, health: null,
  // What the microphone has given so far: its loudest sample and the frames sent (for the tests).
  micPeakSeen: 0, framesSent: 0, recentEvents: [],
};
// The waveform's columns (one per 50 ms), oldest first: microphone and Parley's voice peaks.
export const WAVE_COLUMNS = 120;
export const wave = { mic: new Array(WAVE_COLUMNS).fill(0), voice: new Array(WAVE_COLUMNS).fill(0), micPeak: 0, voicePeak: 0 };
window.parley = state;

export function status(text, kind = "") {
  const element = $("status");
  element.textContent = text;
  element.className = `status ${kind}`;
}
export function notice(text) {
  const element = $("notice");
  element.textContent = text || "";
  element.hidden = !text;
  if (text) state.errors.push(text);
}
// A timer or reminder went off: said aloud, shown on the page, and notified by the browser
// when the page is not in front (if the user allowed notifications).
export function timerNotice(text) {
  const element = $("notice");
  element.textContent = `⏰ ${text}`;
  element.hidden = false;
  if ("Notification" in window && Notification.permission === "granted" && document.hidden) {
    new Notification("Parley", { body: text });
  }
}
export const onCall = () => state.link?.kind === "webrtc";
