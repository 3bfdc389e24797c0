"""Where reply audio goes, as the pipeline sees it: a loudspeaker, a file, a socket."""

from __future__ import annotations

from typing import Protocol

from parley.audio.frames import AudioReady


class PlaybackStopped(Exception):
    """Raised by a sink's ``play`` when nobody will hear any more of the reply (a client that
    stopped reading was dropped): the reply stops as if interrupted, stored as far as heard."""


class AudioSink(Protocol):
    """Where reply audio goes: a loudspeaker, a file, a WebSocket."""

    current_turn_id: int
    # Whether playback held silent (duck) can go on from where it was: then speech over a
    # reply that only acknowledges it lets it play on. A socket client stops playback itself
    # when speech starts, so over a socket any speech over a reply stops it.
    can_resume_held_playback: bool

    async def play(self, chunk: AudioReady) -> None: ...
    def clear(self, turn_id: int) -> None:
        """Drop what is not yet played of turn ``turn_id``'s audio, now, and any that comes
        later; another turn's audio (a reply still playing) is left alone."""
        ...

    def duck(self, is_ducked: bool) -> None:
        """Hold playback silent (True) while a possible barge-in is judged, or go on (False)."""
        ...

    def played_samples(self, turn_id: int) -> int: ...
