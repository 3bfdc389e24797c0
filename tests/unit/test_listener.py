"""The listener on synthetic audio whose loudness is its speech probability, with a clock the
test moves: what each stretch of voice and silence means, without a model or real time."""

from __future__ import annotations

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, AudioFrame, Int16Array
from parley.config.settings import SttConfig, VadConfig
from parley.pipeline.end_of_turn import PauseCall, PauseVerdict
from parley.pipeline.listener import (
    Ducked,
    Heard,
    Hushed,
    Listener,
    PartialDue,
    Paused,
    Resumed,
    UtteranceEnded,
    UtteranceStarted,
)

FRAME_MS = 20
FRAME_SAMPLES = INPUT_SAMPLE_RATE_HZ * FRAME_MS // 1000
VOICE = 8_000  # amplitude the loudness VAD calls speech


class LoudnessVad:
    """Synthetic VAD probabilities: a window is speech when it is loud. Not a model: the
    listener's decisions are under test, not the detection of speech."""

    frame_samples = 512

    def speech_probability(self, frame: Int16Array) -> float:
        return 0.95 if np.abs(frame.astype(np.int32)).mean() > VOICE // 2 else 0.02

    def reset(self) -> None:
        pass


class FakeClock:
    def __init__(self) -> None:
        self.now_ns = 1_000_000_000

    def __call__(self) -> int:
        return self.now_ns


def audio(*stretches: tuple[str, int]) -> Int16Array:
    """("voice", ms) and ("silence", ms) stretches; each voice sample counts up from 1, so a
    test can tell which sample an utterance starts and ends at."""
    pieces = []
    for kind, ms in stretches:
        count = INPUT_SAMPLE_RATE_HZ * ms // 1000
        pieces.append(
            np.full(count, VOICE, np.int16) if kind == "voice" else np.zeros(count, np.int16)
        )
    return np.concatenate(pieces)


def listen(
    samples: Int16Array,
    *,
    clock: FakeClock | None = None,
    vad: VadConfig | None = None,
    stt: SttConfig | None = None,
    on_partial_due: bool = False,
) -> list[Heard]:
    clock = clock or FakeClock()
    listener = Listener(
        LoudnessVad(),
        vad or VadConfig(),
        stt or SttConfig(is_streaming=False),
        frame_ms=FRAME_MS,
        clock=clock,
    )
    heard: list[Heard] = []
    for start in range(0, samples.size, FRAME_SAMPLES):
        clock.now_ns += FRAME_MS * 1_000_000
        frame = AudioFrame(samples[start : start + FRAME_SAMPLES], start, clock.now_ns)
        for event in listener.push(frame):
            heard.append(event)
            if isinstance(event, PartialDue) and on_partial_due:
                listener.partial_started()
    return heard


def kinds(heard: list[Heard]) -> list[str]:
    return [type(event).__name__ for event in heard if not isinstance(event, PartialDue)]


def test_an_utterance_is_heard_from_a_little_before_its_onset_to_just_after_its_last_word() -> None:
    samples = audio(("silence", 1_000), ("voice", 1_200), ("silence", 1_000))
    heard = listen(samples)
    assert kinds(heard) == ["Ducked", "UtteranceStarted", "Hushed", "Paused", "UtteranceEnded"]
    started = next(e for e in heard if isinstance(e, UtteranceStarted)).speech
    ended = next(e for e in heard if isinstance(e, UtteranceEnded))
    onset_sample = started.start_sample
    assert abs(onset_sample - INPUT_SAMPLE_RATE_HZ) <= LoudnessVad.frame_samples
    # 300 ms of pre-roll before the onset, so the first syllable is whole.
    assert ended.speech.start_sample == onset_sample - VadConfig().pre_roll_ms * 16
    last_voiced = ended.speech.last_voiced_sample
    assert abs(last_voiced - 2.2 * INPUT_SAMPLE_RATE_HZ) <= LoudnessVad.frame_samples
    # All of the voice is in the utterance's audio, and 100 ms of the silence after it.
    assert ended.audio.size == last_voiced + 1 - ended.speech.start_sample + 1_600
    assert (ended.audio == VOICE).sum() == 1_200 * 16


def test_a_click_silences_the_reply_then_lets_it_play_on_and_starts_no_turn() -> None:
    heard = listen(audio(("silence", 500), ("voice", 64), ("silence", 1_000)))
    assert heard == [Ducked(is_onset=True), Ducked(is_onset=False)]


def test_a_pause_starts_early_work_and_speech_after_it_voids_that_work() -> None:
    samples = audio(
        ("silence", 500), ("voice", 800), ("silence", 250), ("voice", 800), ("silence", 900)
    )
    heard = listen(samples)
    assert kinds(heard) == [
        "Ducked",
        "UtteranceStarted",
        "Hushed",
        "Paused",
        "Resumed",
        "Hushed",
        "Paused",
        "UtteranceEnded",
    ]
    # The hush comes first, after the same last voiced sample, with the voice so far.
    hushes = [e for e in heard if isinstance(e, Hushed)]
    pauses = [e for e in heard if isinstance(e, Paused)]
    assert [h.last_voiced_sample for h in hushes] == [p.last_voiced_sample for p in pauses]
    assert all((h.audio == VOICE).sum() == 800 * 16 for h in hushes[:1])
    ended = next(e for e in heard if isinstance(e, UtteranceEnded))
    # The second pause is the end: its audio is the whole utterance, as the end's is (with
    # what had come of the silence after it by then).
    assert pauses[1].last_voiced_sample == ended.speech.last_voiced_sample
    assert np.array_equal(pauses[1].audio, ended.audio[: pauses[1].audio.size])
    assert (pauses[1].audio == VOICE).sum() == (ended.audio == VOICE).sum()
    assert (ended.audio == VOICE).sum() == 1_600 * 16


def test_partials_wait_for_enough_speech_and_then_for_the_clock() -> None:
    stt = SttConfig(is_streaming=True, partial_interval_ms=700)
    clock = FakeClock()
    listener = Listener(LoudnessVad(), VadConfig(), stt, frame_ms=FRAME_MS, clock=clock)
    voice = audio(("voice", 3_000))
    due_at_ms: list[int] = []
    for index, start in enumerate(range(0, voice.size, FRAME_SAMPLES)):
        # The clock runs at half speed: the interval is the clock's, not the audio's.
        clock.now_ns += FRAME_MS * 1_000_000 // 2
        frame = AudioFrame(voice[start : start + FRAME_SAMPLES], start, clock.now_ns)
        if any(isinstance(event, PartialDue) for event in listener.push(frame)):
            due_at_ms.append((index + 1) * FRAME_MS)
            listener.partial_started()
    # The first once 600 ms of the utterance (with its pre-roll) is in; then every 700 ms of
    # the clock, which is 1,400 ms of audio here.
    assert len(due_at_ms) == 2
    assert 600 <= due_at_ms[0] <= 900
    assert due_at_ms[1] - due_at_ms[0] == 1_400


def test_a_partial_started_at_the_end_of_speech_stands_for_the_final() -> None:
    stt = SttConfig(is_streaming=True, partial_interval_ms=100)
    late = listen(
        audio(("silence", 500), ("voice", 1_500), ("silence", 900)),
        stt=stt,
        on_partial_due=True,
    )
    ended = next(e for e in late if isinstance(e, UtteranceEnded))
    assert ended.is_covered_by_partial  # the last partial began after the last word

    early = listen(
        audio(("silence", 500), ("voice", 1_500), ("silence", 900)),
        stt=SttConfig(is_streaming=True, partial_interval_ms=10_000),
        on_partial_due=True,
    )
    ended = next(e for e in early if isinstance(e, UtteranceEnded))
    assert not ended.is_covered_by_partial  # one partial, at 600 ms: most words came after


def test_an_utterance_that_goes_on_past_the_limit_is_ended_there_and_the_rest_is_a_new_one() -> (
    None
):
    heard = listen(audio(("voice", 7_000), ("silence", 900)), vad=VadConfig(max_utterance_s=5))
    ends = [e for e in heard if isinstance(e, UtteranceEnded)]
    starts = [e for e in heard if isinstance(e, UtteranceStarted)]
    assert len(ends) == 2 and len(starts) == 2
    first_s = (ends[0].speech.last_voiced_sample - ends[0].speech.start_sample) / 16_000
    assert 4.5 <= first_s <= 5.1
    # No voice is lost between the two: together they hold all 7 s.
    assert sum(int((end.audio == VOICE).sum()) for end in ends) >= 7_000 * 16 - 2 * 512


def test_when_the_onset_entered_the_pipeline_is_worked_back_from_the_frame_that_showed_it() -> None:
    clock = FakeClock()
    started_ns = clock.now_ns
    heard = listen(audio(("silence", 1_000), ("voice", 600), ("silence", 900)), clock=clock)
    speech = next(e for e in heard if isinstance(e, UtteranceStarted)).speech
    # Frame n arrives at started + n * 20 ms, and the voice began 1 s in: the onset is the
    # first voiced VAD window's first sample, which may begin up to a window earlier.
    onset_ms = (speech.onset_t_ns - started_ns) / 1e6
    assert 1_000 - 32 <= onset_ms <= 1_000 + FRAME_MS
    assert speech.t_ns > speech.onset_t_ns  # judged speech only after min_speech_ms
    assert Resumed not in map(type, heard)


def test_a_pause_that_sounds_finished_ends_the_turn_after_the_shorter_silence() -> None:
    samples = audio(("silence", 500), ("voice", 1_000), ("silence", 1_000))

    assert 200 <= ended_after_ms(samples, sooner=True) < 260
    assert 500 <= ended_after_ms(samples) < 560


SOONER_200 = PauseCall(PauseVerdict.END_SOONER, 200)
LATER_1000 = PauseCall(PauseVerdict.HOLD_OPEN, 1_000)


def ended_after_ms(samples: np.ndarray, *, sooner: bool = False, later: bool = False) -> int:
    listener = Listener(LoudnessVad(), VadConfig(), SttConfig(is_streaming=False), frame_ms=20)
    for start in range(0, samples.size, FRAME_SAMPLES):
        frame = AudioFrame(samples[start : start + FRAME_SAMPLES], start, 0)
        for event in listener.push(frame):
            if isinstance(event, Paused) and sooner:
                # What the session does when the turn model hears the voice as finished.
                assert listener.judge_pause(event.last_voiced_sample, SOONER_200)
            if isinstance(event, Paused) and later:
                # What it does when the words at the pause stop mid-sentence.
                assert listener.judge_pause(event.last_voiced_sample, LATER_1000)
            if isinstance(event, UtteranceEnded):
                return (start + FRAME_SAMPLES - event.speech.last_voiced_sample) // 16
    raise AssertionError("the turn never ended")


def test_words_that_stop_mid_sentence_hold_the_turn_through_a_longer_pause() -> None:
    # "What is the capital of ... France?" with 700 ms between: one turn, not two.
    samples = audio(("silence", 500), ("voice", 800), ("silence", 700), ("voice", 400))
    samples = np.concatenate([samples, audio(("silence", 1_500))])
    listener = Listener(LoudnessVad(), VadConfig(), SttConfig(is_streaming=False), frame_ms=20)
    ends: list[UtteranceEnded] = []
    for start in range(0, samples.size, FRAME_SAMPLES):
        for event in listener.push(AudioFrame(samples[start : start + FRAME_SAMPLES], start, 0)):
            if isinstance(event, Paused) and event.last_voiced_sample < 1_500 * 16:
                assert listener.judge_pause(event.last_voiced_sample, LATER_1000)
            if isinstance(event, UtteranceEnded):
                ends.append(event)
    assert len(ends) == 1 and (ends[0].audio == VOICE).sum() == 1_200 * 16
    # The longer wait was for that pause only: the turn then ends on the usual silence.
    assert (ends[0].speech.last_voiced_sample + 1) // 16 == 500 + 800 + 700 + 400
    # Held open, an unfinished turn that does not go on ends after the longer silence.
    lone = audio(("silence", 500), ("voice", 800), ("silence", 1_500))
    assert 1_000 <= ended_after_ms(lone, later=True) < 1_060


def test_speech_after_the_pause_voids_the_sooner_end() -> None:
    samples = audio(
        ("silence", 500), ("voice", 800), ("silence", 120), ("voice", 800), ("silence", 1_000)
    )
    listener = Listener(LoudnessVad(), VadConfig(), SttConfig(is_streaming=False), frame_ms=20)
    first_pause: int | None = None
    ends: list[UtteranceEnded] = []
    for start in range(0, samples.size, FRAME_SAMPLES):
        for event in listener.push(AudioFrame(samples[start : start + FRAME_SAMPLES], start, 0)):
            if isinstance(event, Paused) and first_pause is None:
                first_pause = event.last_voiced_sample
            if isinstance(event, Resumed):
                # The turn model's answer about the first pause comes in late: it is void.
                assert first_pause is not None
                assert not listener.judge_pause(first_pause, PauseCall(PauseVerdict.END_SOONER, 32))
            if isinstance(event, UtteranceEnded):
                ends.append(event)
    assert len(ends) == 1 and (ends[0].audio == VOICE).sum() == 1_600 * 16
