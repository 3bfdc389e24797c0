// The page's two ways to reach Parley, behind one small "link": a WebRTC call (the default:
// POST /v1/realtime/calls, the browser's own echo canceller, noise suppression and gain control
// act on a real call, and the reply plays from a jitter-buffered track) or the realtime
// WebSocket (events with base64 audio both ways). Both carry exactly the same events.

// A WebRTC call. The microphone is attached later (setMicrophone), without renegotiating: the
// offer carries an audio transceiver from the start.
export async function openCall({ query, clientSecret, onOpen, onEvent, onClose, onVoice }) {
  const pc = new RTCPeerConnection();
  const channel = pc.createDataChannel("oai-events");
  const { sender } = pc.addTransceiver("audio", { direction: "sendrecv" });
  let isClosed = false;
  const link = {
    kind: "webrtc",
    isOpen: () => channel.readyState === "open",
    send: (event) => { if (channel.readyState === "open") channel.send(JSON.stringify(event)); },
    // The track, or null to send nothing (paused, or push-to-talk not held).
    setMicrophone: (track) => sender.replaceTrack(track),
    close: () => { pc.close(); finish(); },
  };
  const finish = () => {
    if (isClosed) return;
    isClosed = true;
    onClose(link);
  };
  pc.ontrack = (event) => onVoice(event.streams[0] || new MediaStream([event.track]));
  pc.onconnectionstatechange = () => { if (["failed", "closed"].includes(pc.connectionState)) finish(); };
  channel.onopen = () => onOpen(link);
  channel.onmessage = (message) => onEvent(JSON.parse(message.data));
  channel.onclose = finish;
  await pc.setLocalDescription(await pc.createOffer());
  // No trickle ICE: Parley's answer carries its candidates, and learns the page's own address
  // from its connectivity checks.
  const response = await fetch(`/v1/realtime/calls${query}`, {
    method: "POST",
    body: pc.localDescription.sdp,
    headers: { "Content-Type": "application/sdp", Authorization: `Bearer ${clientSecret}` },
  });
  if (!response.ok) {
    pc.close();
    let message = `${response.status}`;
    try { message = (await response.json()).error.message; } catch { /* not JSON */ }
    const error = new Error(`The call was refused: ${message}`);
    error.retry = response.status >= 500;
    throw error;
  }
  await pc.setRemoteDescription({ type: "answer", sdp: await response.text() });
  return link;
}

// The realtime WebSocket.
export function openSocket({ query, clientSecret, onOpen, onEvent, onClose }) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const ws = new WebSocket(`${scheme}://${location.host}/v1/realtime${query}`, ["realtime", `openai-insecure-api-key.${clientSecret}`]);
  const link = {
    kind: "websocket",
    isOpen: () => ws.readyState === WebSocket.OPEN,
    send: (event) => { if (ws.readyState === WebSocket.OPEN) ws.send(JSON.stringify(event)); },
    setMicrophone: () => {},
    close: () => ws.close(),
  };
  ws.onopen = () => onOpen(link);
  ws.onmessage = (message) => onEvent(JSON.parse(message.data));
  ws.onclose = () => onClose(link);
  return link;
}
