"""Home Assistant's Wyoming protocol: ``service`` listens, ``connection`` serves one client,
``framing`` reads its events within limits, ``transcription``/``transcript_stream`` are the
speech-to-text program, ``speech`` the text-to-speech program, ``agent`` the conversation agent,
``programs`` what ``describe`` answers."""

from parley.server.wyoming.service import WyomingService

__all__ = ["WyomingService"]
