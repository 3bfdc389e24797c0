// The link to Parley (a WebRTC call or a WebSocket, see call.js): connecting, reconnecting with
// a backoff, and the session settings sent over it.
import { openCall, openSocket } from "/static/call.js";
import { attachMicrophone, attachVoice } from "/static/audio.js";
import { handleEvent } from "/static/conversation.js";
import { credentials, mintToken } from "/static/credentials.js";
import { $, RATE, notice, state, status } from "/static/page.js";

export async function connect() {
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
export function linkOpened(link) {
  if (state.link !== link) return;
  state.reconnectDelayMs = 500;
  notice("");
  status("Connected", "ok");
  $("status").title = link.kind === "webrtc" ? "A WebRTC call" : "A WebSocket";
  sendSessionUpdate();
  attachMicrophone();
}
export function linkClosed(link) {
  if (state.link !== link) return;
  state.link = null;
  state.responseActive = false;
  if (state.wantConnected) scheduleReconnect();
}
export function scheduleReconnect() {
  const delay = state.reconnectDelayMs;
  state.reconnectDelayMs = Math.min(delay * 2, 8000);
  status(`Connection lost — reconnecting in ${(delay / 1000).toFixed(1)} s`, "warn");
  setTimeout(() => { if (state.wantConnected && !state.link) connect(); }, delay);
}
export function send(event) {
  state.link?.send(event);
}
export function sendSessionUpdate() {
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
