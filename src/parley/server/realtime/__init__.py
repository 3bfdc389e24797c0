"""The OpenAI Realtime protocol over WebSocket: ``connection`` owns the socket, ``inbound``
reads client events, ``outbound`` writes server events, ``items`` keeps the conversation's
item ids, ``audio_in``/``audio_out`` carry the microphone and the reply's voice."""

from parley.server.realtime.connection import RealtimeConnection

__all__ = ["RealtimeConnection"]
