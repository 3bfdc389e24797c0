"""The sections of Parley's configuration that shape a conversation and its models, one typed
model each, checked when loaded (the service's own sections are in ``service_sections``)."""

from __future__ import annotations

from typing import Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    SecretStr,
)


class Section(BaseModel):
    # NaN passes no comparison, so a NaN threshold would silently disable what it guards.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AudioConfig(Section):
    frame_ms: int = Field(
        20, ge=10, le=100, description="size of input frames, as a microphone delivers them"
    )
    output_sample_rate_hz: int = Field(24_000, ge=8_000, le=48_000)


class VadConfig(Section):
    threshold: float = Field(
        0.5, ge=0, le=1, description="speech probability that counts as voiced"
    )
    min_speech_ms: int = Field(200, ge=0, description="voiced time needed before a turn starts")
    end_silence_ms: int = Field(500, ge=64, description="silence after speech that ends the turn")
    pre_roll_ms: int = Field(300, ge=0, description="audio kept from before the detected onset")
    max_utterance_s: float = Field(
        60.0,
        ge=5,
        le=600,
        description="an utterance this long is ended there (what follows starts the next turn), "
        "so that no turn's audio or transcripts grow without bound",
    )
    speculative_silence_ms: int | None = Field(
        64,
        ge=32,
        description="silence after which STT and the reply start early, held until the turn "
        "ends and dropped if the user goes on (a decode still queued is then dropped unrun); "
        "empty to wait for the end of the turn. 64 ms: bench median 502 -> 458 ms vs 96. 32 ms "
        "measured 377-392 ms against 413-421, but the pause's clip then holds less of the "
        "silence after the last word, and Whisper tiny.en heard 'France' as 'friends' at 4 of 8 "
        "alignments of one question, against 1 of 8 at 64",
    )
    is_using_turn_model: bool = Field(
        True,
        description="at that pause, ask the turn model (Smart Turn v3.2) whether the voice "
        "sounds finished; if it does, the turn ends after turn_complete_silence_ms instead of "
        "end_silence_ms",
    )
    turn_complete_threshold: float = Field(
        0.5, ge=0, le=1, description="the turn model's probability that counts as finished"
    )
    turn_complete_silence_ms: int = Field(
        300,
        ge=32,
        description="silence that ends a turn the turn model heard as finished (and whose words "
        "do not stop mid-sentence). 300 ms: the bench's questions with a 350 ms pause in them "
        "were cut at the pause 0 times in 4 (200 ms: 2 in 4), and the median voice to voice "
        "barely moves, as the reply begun on the pause takes longer than that",
    )
    turn_certain_threshold: float = Field(
        0.9,
        ge=0,
        le=1,
        description="the turn model's probability that counts as clearly finished: the turn "
        "then ends after turn_certain_silence_ms",
    )
    turn_certain_silence_ms: int = Field(
        200,
        ge=32,
        description="silence that ends a turn the turn model heard as clearly finished (and "
        "whose words do not stop mid-sentence), about the gap people leave between turns. At "
        "the bench's mid-question pauses the turn model gave 0.02-0.13; to finished questions, "
        "0.83-0.99 (a few 0.07-0.38, which wait end_silence_ms)",
    )
    unfinished_silence_ms: int = Field(
        1000,
        ge=0,
        description="silence that ends a turn whose words at the pause stop mid-sentence ('what "
        "is the capital of'), as a listener waits for the rest; 0: end_silence_ms as for any "
        "pause. With semantic turn detection only (server_vad is silence alone)",
    )


_BACKCHANNEL_WORDS = [
    "uh",
    "huh",
    "uh-huh",
    "mm",
    "mhm",
    "mm-hmm",
    "hmm",
    "hm",
    "mmm",
    "yeah",
    "yep",
    "yes",
    "yup",
    "ok",
    "okay",
    "right",
    "sure",
    "alright",
    "i",
    "see",
    "got",
    "it",
    "cool",
    "nice",
    "wow",
    "oh",
    "ah",
    "aha",
    "ha",
    "um",
    "uhm",
    "er",
    "you",
    "thank",
    "thanks",
]


_STOP_WORDS = [
    "stop",
    "wait",
    "no",
    "hold",
    "pause",
    "quiet",
    "enough",
    "shut",
    "sorry",
    "excuse",
    "hey",
    "parley",
    "cancel",
    "never",
    "what",
    "why",
    "how",
    "who",
    "where",
    "when",
    "which",
]


class BargeInConfig(Section):
    """When speech over a reply stops it. The reply goes silent at the first voiced frames
    either way; these decide whether it then stops or plays on."""

    is_ignoring_backchannels: bool = Field(
        True,
        description="speech over a reply that ends within confirm_speech_ms and is an "
        "acknowledgement (its words all backchannel_words, or none: a cough, a knock; or "
        "shorter than short_speech_ms) lets the reply play on; false: any speech over a reply "
        "stops it",
    )
    confirm_speech_ms: int = Field(
        1000,
        ge=0,
        le=5000,
        description="speech over a reply that lasts this long stops it whatever its words; "
        "shorter speech stops it once a transcript shows words other than backchannels",
    )
    backchannel_words: tuple[str, ...] = Field(
        tuple(_BACKCHANNEL_WORDS),
        description="words that acknowledge without asking for the turn",
    )
    max_backchannel_words: int = Field(
        3, ge=1, description="more words than this are a turn, whatever they are"
    )
    short_speech_ms: int = Field(
        700,
        ge=0,
        le=5000,
        description="speech over a reply shorter than this is an acknowledgement whatever words "
        "it was heard as (an 'uh-huh' over Parley's own voice is often misheard), unless it "
        "holds one of stop_words or asks a question; when Whisper was unsure of the words "
        "(stt.unclear_log_probability) only a stop word that is not a question word stops it",
    )
    stop_words: tuple[str, ...] = Field(
        tuple(_STOP_WORDS), description="words that stop a reply however briefly they are said"
    )


class ModelServerConfig(Section):
    """An OpenAI-compatible model server that runs a model for this worker (`parley serve
    --role models` on another box is one): its /v1/audio/transcriptions or /v1/audio/speech."""

    url: HttpUrl = Field(description="its base URL, ending in /v1")
    api_key: SecretStr | None = Field(None, description="its API key (a Parley's api_key file)")
    timeout_s: float = Field(30.0, gt=0, description="for one request")


class WhisperConfig(Section):
    backend: Literal["faster_whisper"] = "faster_whisper"
    model: str = Field(
        "tiny.en", description="tiny.en (embedded), base (embedded), or a model directory"
    )
    language: str | None = "en"
    cpu_threads: int = Field(
        1,
        ge=1,
        description="1: tiny.en's clip-length decode is faster on one thread than on two at "
        "every length measured (2 s 64 ms vs 68, 4 s 68 vs 83, 8 s 110 vs 130, 12 s 185 vs "
        "233; AMD EPYC, AVX-512 and AVX2 alike), and leaves a core to the turn model or the LLM",
    )
    beam_size: int = Field(
        2,
        ge=1,
        description="2: the clip window, ended as a 30 s window ends, heard the bench's sets "
        "better with a beam of two than greedy and than Whisper's own greedy 30 s decode (see "
        "docs/benchmarks.md's word error rates), for a few ms a decode; 1 is the fastest",
    )
    decoder_prompt: str = Field(
        "What is the population of Peru? How do I fix a flat tyre?",
        max_length=200,
        description="words Whisper's decoder reads as if said just before each clip, so that it "
        "expects everyday spoken requests; empty: none (use your own language's words with a "
        "multilingual model). Two questions of a kind people ask, in none of the eval's or the "
        "bench's words: over 152 eval questions in eight voices, word errors 18.2 -> 16.3 %, "
        "heard exactly 699 -> 727 of 1,216; over 39 held-out statements, commands and questions, "
        "12.8 -> 11.0 %; recorded human speech unchanged (8 errors in 96 words); ~10 ms a decode",
    )
    hypotheses: int = Field(
        4,
        ge=1,
        le=8,
        description="more than 1: Whisper's beam gives this many hypotheses for the words that "
        "end a turn (not for partials), and a small LLM (SmolLM2-135M) chooses among those "
        "whose words differ by how likely a person is to say them ('the largest manual' -> "
        "'the largest mammal'); 1: Whisper's first, and no model loaded for it. 4 against 1, "
        "eval --answers in eight voices, one sitting on a 2-core Xeon: right 69.7 -> 72.4 %, "
        "misheard 17.8 -> 11.8 %, voice to voice median 743 -> 792 ms",
    )
    hypothesis_weight: float = Field(
        0.05,
        ge=0,
        le=10,
        description="how much the LLM's log-probability of a hypothesis counts against "
        "Whisper's mean log-probability of it (stt.hypotheses)",
    )
    unclear_log_probability: float = Field(
        -0.65,
        ge=-10,
        le=0,
        description="a transcript whose mean token log-probability is below this was not made "
        "out: Parley asks the user to say it again rather than answer another question. With "
        "decoder_prompt, 1,216 eval questions in eight voices: 91 of 328 misheard below -0.65, "
        "and 3 of 888 heard; on 312 held-out clips 13 of 53 misheard and 0 heard; -10 never asks",
    )
    partial_interval_ms: int = Field(700, ge=100, description="least time between partial decodes")
    is_streaming: bool = Field(True, description="decode partial transcripts while the user speaks")
    window_padding_s: float = Field(
        4.0,
        ge=0,
        le=10,
        description="silence after the clip in Whisper's encoder window (clip-length window, "
        "several times faster than the fixed 30 s); 0 for faster-whisper's 30 s window. Less "
        "than ~3 s makes Whisper repeat itself.",
    )
    window_min_s: float = Field(
        10.0,
        ge=1,
        le=30,
        description="shortest encoder window: a 2 s question is heard better in 10 s than in 8 "
        "(140 word errors in 1,184 vs 129 on the bench's sets) and encoded 7x faster than in 30",
    )
    remote: ModelServerConfig | None = Field(
        None, description="transcribe on a model server instead of loading Whisper here"
    )


SttConfig = WhisperConfig
