"""Where reply audio goes, as the pipeline sees it: a loudspeaker, a file, a socket."""

from __future__ import annotations

from typing import Protocol

from parley.audio.frames import AudioReady


class PlaybackStopped(Exception):
    """Raised by a sink's ``play`` when nobody will hear any more of the reply (a client that
    stopped reading was dropped): the reply stops as if interrupted, stored as far as heard."""


class PlaybackTracks:
    """Each reply's track at one sink: the per-reply bookkeeping every kind of sink needs,
    kept here once. One reply has the floor (``open``): only its audio plays, and audio still
    arriving from a reply it superseded is stale. A reply cleared (barge-in) keeps where it
    stopped, so that what was heard of it stays known, and its later audio is dropped."""

    _KEEP_CLEARED = 64  # replies whose stopping point is remembered: far more than are live

    def __init__(self) -> None:
        self.floor_turn_id: int | None = None  # the reply that has the floor
        self._cleared_at: dict[int, int] = {}  # turn id -> samples played when cleared

    def open(self, turn_id: int) -> None:
        """Reply ``turn_id`` takes the floor: its audio plays from now on."""
        self.floor_turn_id = turn_id

    def has_floor(self, turn_id: int) -> bool:
        return turn_id == self.floor_turn_id

    def admits(self, turn_id: int) -> bool:
        """Whether audio of reply ``turn_id`` is to be played: it has the floor, uncleared."""
        return turn_id == self.floor_turn_id and turn_id not in self._cleared_at

    def clear(self, turn_id: int, *, played_samples: int) -> bool:
        """Reply ``turn_id`` stopped with ``played_samples`` heard. False: it already had."""
        if turn_id in self._cleared_at:
            return False
        self.hear(turn_id, played_samples)
        return True

    def hear(self, turn_id: int, played_samples: int) -> None:
        """How much of reply ``turn_id`` was heard, by the listener's own account (a socket
        client's truncate): it plays no more."""
        self._cleared_at[turn_id] = played_samples
        while len(self._cleared_at) > self._KEEP_CLEARED:
            del self._cleared_at[next(iter(self._cleared_at))]

    def cleared_at(self, turn_id: int) -> int | None:
        """Samples of reply ``turn_id`` played when it was cleared; None: it was not."""
        return self._cleared_at.get(turn_id)

    def is_cleared(self, turn_id: int) -> bool:
        return turn_id in self._cleared_at


class AudioSink(Protocol):
    """Where reply audio goes: a loudspeaker, a file, a WebSocket."""

    tracks: PlaybackTracks  # which reply has the floor, and where each cleared one stopped
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
