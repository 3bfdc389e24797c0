"""Who has the floor: the one policy that decides barge-in, backchannels, echo and what the end
of a turn leads to.

Like ``Endpointer``, it does no I/O and holds no model: the session tells it what was heard
(speech starting over a reply, frames going by, partial and final words) and what is playing,
and it answers with decisions the session carries out. Its stream time is samples heard, so a
table of inputs gives the same decisions every run.

Speech over a reply is judged in three steps, since a listener's "uh-huh", a cough, a knock and
Parley's own voice come back through the room all start like a turn:
  1. at its onset the reply is held silent (ducked), unless it cannot be resumed (a socket
     client stops its own playback) or nothing is audible: then it stops at once;
  2. it stops for good when the speech goes on past ``confirm_speech_ms``, or when words heard
     so far ask for the turn (once it has gone on past ``short_speech_ms``);
  3. at the end of the utterance its words decide: Parley's own echo or an acknowledgement
     lets the reply play on; anything else stops it and is answered.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.config.sections import BargeInConfig
from parley.pipeline.session_options import SessionOptions
from parley.pipeline.turn_cues import AcknowledgementRule, is_own_echo


class Floor(enum.Enum):
    """What to do with the reply playing now."""

    DUCK = "duck"  # hold it silent: voice may be starting over it
    PLAY_ON = "play_on"  # lift the hold: it was not a turn
    STOP = "stop"  # barge-in: the reply stops, stored as far as it was heard


class Outcome(enum.Enum):
    """What an ended turn leads to, once its words are known."""

    IGNORED = "ignored"  # Parley's own echo or an acknowledgement: the reply plays on
    NO_WORDS = "no_words"  # nothing was said (a noise): no reply
    KEEP_WORDS = "keep_words"  # the user already speaks again: store the words, reply later
    RELEASE_HELD = "release_held"  # the reply begun on the pause is the answer: let it play
    REPLY = "reply"  # start the reply now
    WAIT = "wait"  # replies are asked for by the client (response.create)


@dataclass(frozen=True, slots=True)
class Rules:
    """The configured side of the policy, fixed for one decision."""

    acknowledgements: AcknowledgementRule
    is_barge_in_enabled: bool = True
    is_ignoring_backchannels: bool = True
    confirm_speech_ms: int = 1000
    is_replying_automatically: bool = True

    @classmethod
    def of_session(cls, barge_in: BargeInConfig, options: SessionOptions) -> Rules:
        """The rules for a session as its client has set it now."""
        return cls.of(
            barge_in,
            is_barge_in_enabled=options.is_barge_in_enabled,
            is_replying_automatically=options.is_replying_automatically,
        )

    @classmethod
    def of(
        cls, barge_in: BargeInConfig, *, is_barge_in_enabled: bool, is_replying_automatically: bool
    ) -> Rules:
        return cls(
            acknowledgements=AcknowledgementRule.from_config(barge_in),
            is_barge_in_enabled=is_barge_in_enabled,
            is_ignoring_backchannels=barge_in.is_ignoring_backchannels,
            confirm_speech_ms=barge_in.confirm_speech_ms,
            is_replying_automatically=is_replying_automatically,
        )


@dataclass(frozen=True, slots=True)
class Words:
    """The words of a partial or final transcript, and what Parley was saying meanwhile."""

    text: str
    voiced_ms: float  # how long the speech the words came from lasted
    played_text: str = ""  # the reply's words sounding in the room as they were spoken
    is_unclear: bool = False  # the recogniser was unsure of them (Transcript.is_unclear)


@dataclass(frozen=True, slots=True)
class PartialVerdict:
    floor: Floor | None
    is_users_words: bool  # False: Parley's own voice come back, not to be shown or read ahead


@dataclass(frozen=True, slots=True)
class FinalVerdict:
    floor: Floor | None
    outcome: Outcome
    is_users_words: bool


class TurnTaking:
    """The floor, for one conversation: what speech over a reply and each ended turn lead to."""

    def __init__(self) -> None:
        self._onset_sample: int | None = None  # speech over a reply being judged began here
        self.is_in_utterance = False

    @property
    def is_judging_speech_over_reply(self) -> bool:
        return self._onset_sample is not None

    def on_voice_edge(self, is_onset: bool, rules: Rules) -> Floor | None:
        """The listener thinks voice may be starting (or that what it heard was too short)."""
        if not rules.is_barge_in_enabled:
            return None
        return Floor.DUCK if is_onset else Floor.PLAY_ON

    def on_utterance_start(
        self, start_sample: int, rules: Rules, *, is_reply_audible: bool, can_resume: bool
    ) -> Floor | None:
        self.is_in_utterance = True
        if not rules.is_barge_in_enabled:
            return None
        if rules.is_ignoring_backchannels and can_resume and is_reply_audible:
            self._onset_sample = start_sample
            return Floor.DUCK  # held silent until the speech is judged
        return self._stop()

    def on_frames(self, heard_samples: int, rules: Rules, *, is_paused: bool) -> Floor | None:
        """Frames went by: speech over a reply that goes on is too long for an acknowledgement."""
        onset = self._onset_sample
        confirm_samples = INPUT_SAMPLE_RATE_HZ * rules.confirm_speech_ms // 1000
        if onset is not None and not is_paused and heard_samples - onset >= confirm_samples:
            return self._stop()
        return None

    def on_partial(self, heard: Words, rules: Rules) -> PartialVerdict:
        if self._onset_sample is None:
            return PartialVerdict(None, is_users_words=True)
        if is_own_echo(heard.text, heard.played_text):
            return PartialVerdict(None, is_users_words=False)
        if heard.voiced_ms < rules.acknowledgements.short_speech_ms:
            # Too little to go on: Whisper's guess at a fraction of a second, often with
            # Parley's voice under it ("uh-huh" was once decoded "What up?" 400 ms in, and
            # "But uh..." whole). The reply is held silent meanwhile, so letting the
            # utterance's end decide on all of it costs the user nothing they would hear.
            return PartialVerdict(None, is_users_words=True)
        if rules.acknowledgements.is_acknowledgement(
            heard.text, voiced_ms=heard.voiced_ms, is_unclear=heard.is_unclear
        ):
            return PartialVerdict(None, is_users_words=True)
        return PartialVerdict(self._stop(), is_users_words=True)  # the words ask for the turn

    def on_utterance_end(self, last_voiced_sample: int) -> float | None:
        """The utterance ended; how long it ran over a reply (ms), if it began over one."""
        onset, self._onset_sample = self._onset_sample, None
        self.is_in_utterance = False
        if onset is None:
            return None
        return (last_voiced_sample - onset) * 1000 / INPUT_SAMPLE_RATE_HZ

    def on_final(
        self,
        heard: Words,
        rules: Rules,
        *,
        over_reply_ms: float | None,
        has_held_reply: bool,
    ) -> FinalVerdict:
        """The words of an ended turn are known: what they do to the reply, and what follows."""
        play_on = None if self.is_in_utterance else Floor.PLAY_ON
        floor: Floor | None = None
        if over_reply_ms is not None:
            if is_own_echo(heard.text, heard.played_text):
                return FinalVerdict(play_on, Outcome.IGNORED, is_users_words=False)
            if rules.acknowledgements.is_acknowledgement(
                heard.text, voiced_ms=over_reply_ms, is_unclear=heard.is_unclear
            ):
                return FinalVerdict(play_on, Outcome.IGNORED, is_users_words=True)
            floor = self._stop()
        if heard.text and self.is_in_utterance and rules.is_barge_in_enabled:
            # The user is already speaking again: a reply now would be talked over at once.
            # Their words are kept; the reply answers them with the utterance under way.
            return FinalVerdict(floor, Outcome.KEEP_WORDS, is_users_words=True)
        if has_held_reply:
            return FinalVerdict(floor, Outcome.RELEASE_HELD, is_users_words=True)
        if not heard.text:
            return FinalVerdict(floor, Outcome.NO_WORDS, is_users_words=True)
        if rules.is_replying_automatically:
            return FinalVerdict(floor, Outcome.REPLY, is_users_words=True)
        return FinalVerdict(floor, Outcome.WAIT, is_users_words=True)

    def may_reply_early(
        self, rules: Rules, *, is_reply_audible: bool, asks_to_change_memory: bool
    ) -> bool:
        """Whether a reply may be begun on a pause, before the turn is known to have ended."""
        # With barge-in off, a reply still written or played must not be superseded by one
        # begun early: this turn's reply follows it.
        # Nor while speech over a reply is being judged: a new reply would stop that one. Nor
        # to "remember that…": its reply is the confirmation, made once the words are stored.
        return (
            rules.is_replying_automatically
            and self._onset_sample is None
            and (rules.is_barge_in_enabled or not is_reply_audible)
            and not asks_to_change_memory
        )

    def on_wake_word(self, *, is_reply_audible: bool) -> Floor | None:
        """The assistant's name was heard (``parley listen --wake-word``). Said over a reply it
        stops it at once, barge-in on or off: two names cannot be an echo or an "uh-huh", and
        a word as short as "stop" can lose its first sound to the echo canceller."""
        return self._stop() if is_reply_audible else None

    @staticmethod
    def on_new_reply(rules: Rules, *, is_unprompted: bool) -> Floor | None:
        """A new reply is begun while another is still being written: it supersedes it
        (STOP, the other stored as far as heard), or it follows it (None) when barge-in is off
        or Parley speaks up unprompted (a timer gone off while "OK, a timer is set" is still
        being said)."""
        if rules.is_barge_in_enabled and not is_unprompted:
            return Floor.STOP
        return None

    def _stop(self) -> Floor:
        self._onset_sample = None
        return Floor.STOP
