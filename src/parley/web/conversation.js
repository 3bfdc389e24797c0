// The conversation view: the server's events drawn as the user's and Parley's words, the
// reply's words lit as they are heard.
import { callPlaybackEnded, callShare, playDelta, stopPlayback } from "/static/audio.js";
import { recordLatency } from "/static/panels.js";
import { $, notice, onCall, state, timerNotice } from "/static/page.js";

export function bubble(role, text = "") {
  $("hint")?.remove();
  const item = document.createElement("li");
  item.className = role;
  item.textContent = text;
  $("transcript").appendChild(item);
  item.scrollIntoView({ block: "end" });
  return item;
}
export function handleEvent(event) {
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
      // This item's bubble and the one before it (still playing while this one is written).
      state.bubbleOfItem = { [event.item.id]: state.assistantBubble, ...(state.audioItemId ? { [state.audioItemId]: state.bubbleOfItem[state.audioItemId] } : {}) };
      state.audioItemId = event.item.id;
      state.audioItemStarted = false;
      break;
    case "conversation.item.truncated":
      // Cut after it was all written (on a call, the server heard the user over its playback):
      // the reply is marked as a response cancelled mid-way is.
      state.bubbleOfItem[event.item_id]?.classList.add("interrupted");
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

// The reply's words as they are heard: the share of its words lit is the share of its received
// audio played (text arrives a sentence ahead of its audio, so this tracks the voice to within a
// few words). An interrupted reply keeps lit only what was heard.
export function showReplyWords(isAllSpoken = false) {
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
