"""The sections of Parley's configuration, one typed model each, checked when loaded."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Discriminator,
    Field,
    HttpUrl,
    SecretStr,
    Tag,
    model_validator,
)


class _Section(BaseModel):
    # NaN passes no comparison, so a NaN threshold would silently disable what it guards.
    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class AudioConfig(_Section):
    frame_ms: int = Field(
        20, ge=10, le=100, description="size of input frames, as a microphone delivers them"
    )
    output_sample_rate_hz: int = Field(24_000, ge=8_000, le=48_000)


class VadConfig(_Section):
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
        "empty to wait for the end of the turn. 64 ms: bench median 502 -> 458 ms vs 96",
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


class BargeInConfig(_Section):
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
        "holds one of stop_words or asks a question",
    )
    stop_words: tuple[str, ...] = Field(
        tuple(_STOP_WORDS), description="words that stop a reply however briefly they are said"
    )


class ModelServerConfig(_Section):
    """An OpenAI-compatible model server that runs a model for this worker (`parley serve
    --role models` on another box is one): its /v1/audio/transcriptions or /v1/audio/speech."""

    url: HttpUrl = Field(description="its base URL, ending in /v1")
    api_key: SecretStr | None = Field(None, description="its API key (a Parley's api_key file)")
    timeout_s: float = Field(30.0, gt=0, description="for one request")


class WhisperConfig(_Section):
    backend: Literal["faster_whisper"] = "faster_whisper"
    model: str = Field(
        "tiny.en", description="tiny.en (embedded), base (embedded), or a model directory"
    )
    language: str | None = "en"
    cpu_threads: int = Field(2, ge=1)
    beam_size: int = Field(
        1,
        ge=1,
        description="1: a 2 s question decodes in ~96 ms instead of ~146 (beam 5) with the same "
        "word error rate on the bench's prompts (0.134) and the test speech; beam 5 was better "
        "on held-out speech through the 30 s window (0.06 vs 0.09): raise it for hard audio",
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
        description="shortest encoder window: a 2 s question is heard better in 10 s than in 6 "
        "(word error rate 0.15 vs 0.20 on Parley's spoken prompts) and still 4x faster than 30 s",
    )
    remote: ModelServerConfig | None = Field(
        None, description="transcribe on a model server instead of loading Whisper here"
    )


SttConfig = WhisperConfig


class _LlmCommon(_Section):
    context_tokens: int = Field(4096, ge=512, description="the model's context window")
    system_prompt: str = (
        "You are Parley, a friendly voice assistant running on the user's own computer. "
        "Your words are spoken aloud, so answer in one or two short sentences of plain speech: "
        "no lists, no markdown, no emoji, and write numbers and symbols as words."
    )
    max_reply_tokens: int = Field(120, ge=1, le=1024)
    temperature: float = Field(0.3, ge=0, le=2)
    history_turns: int = Field(8, ge=0, description="earlier exchanges kept in the prompt")
    is_prefilling: bool = Field(
        True,
        description="read the prompt into the KV cache from partial transcripts while the user speaks",
    )


class LlamaCppConfig(_LlmCommon):
    backend: Literal["llama_cpp"] = "llama_cpp"
    model_path: Path | None = Field(
        None, description="a GGUF file; empty means the embedded Qwen2.5 0.5B"
    )
    n_threads: int = Field(2, ge=1, description="threads while generating tokens")
    n_threads_batch: int = Field(2, ge=1, description="threads while reading the prompt")
    repeat_penalty: float = Field(1.15, ge=1.0, le=2.0, description="small models loop without it")
    seed: int = 0


class OpenAICompatConfig(_LlmCommon):
    backend: Literal["openai"]
    base_url: HttpUrl
    fallback_urls: list[HttpUrl] = Field(
        default_factory=list,
        description="more servers of the same model, tried in order when one cannot answer",
    )
    recheck_after_s: float = Field(
        15.0, gt=0, description="a server that failed is skipped this long, then checked again"
    )
    model: str = "default"
    api_key: SecretStr | None = None
    timeout_s: float = Field(30.0, gt=0)


def _backend_or(default: str) -> Any:
    # A section without `backend:` means the default backend, so `llm: {temperature: 0}` works.
    def pick(value: Any) -> str:
        if isinstance(value, dict):
            return str(value.get("backend", default))
        return str(getattr(value, "backend", default))

    return Discriminator(pick)


LlmConfig = Annotated[
    Annotated[LlamaCppConfig, Tag("llama_cpp")] | Annotated[OpenAICompatConfig, Tag("openai")],
    _backend_or("llama_cpp"),
]


class _TtsCommon(_Section):
    speed: float = Field(1.0, gt=0.25, le=4.0, description="speaking rate; 1.0 is the voice's own")
    first_piece_max_words: int = Field(
        5,
        ge=0,
        description="start speaking before the first clause ends: after a comma or before a "
        "word that opens a phrase, or after this many words (0: only at a clause). Measured: "
        "voice-to-voice median 859 -> 734 ms",
    )
    remote: ModelServerConfig | None = Field(
        None, description="speak through a model server's voice of this name instead of here"
    )


class PiperConfig(_TtsCommon):
    backend: Literal["piper"] = "piper"
    noise_scale: float | None = Field(
        None, ge=0, le=2, description="voice variation; empty: the voice's own, 0: deterministic"
    )
    noise_w: float | None = Field(None, ge=0, le=2, description="timing variation; as noise_scale")
    voice_path: Path | None = Field(
        None, description="an .onnx voice; empty means the embedded voice"
    )
    fallback_to_espeak: bool = Field(
        True, description="speak with espeak-ng if the voice cannot load"
    )
    threads: int = Field(2, ge=1, description="the voice's threads (they sleep when idle)")

    @property
    def voice_name(self) -> str:
        return self.voice_path.stem if self.voice_path is not None else "en_US-joe-medium"


class EspeakConfig(_TtsCommon):
    backend: Literal["espeak"]
    voice: str = "en-us"

    @property
    def voice_name(self) -> str:
        return f"espeak-{self.voice}"


class FliteConfig(_TtsCommon):
    backend: Literal["flite"]
    voice: Literal["slt", "rms", "awb", "kal", "kal16"] = Field(
        "slt", description="Debian flite's voices: slt (female), rms and awb (male), kal (diphone)"
    )

    @property
    def voice_name(self) -> str:
        return f"flite-{self.voice}"


class XttsConfig(_TtsCommon):
    backend: Literal["xtts"]
    model_dir: Path | None = None
    speaker_wav: Path | None = None
    language: str = "en"

    @property
    def voice_name(self) -> str:
        return self.speaker_wav.stem if self.speaker_wav is not None else "xtts"


TtsConfig = Annotated[
    Annotated[PiperConfig, Tag("piper")]
    | Annotated[EspeakConfig, Tag("espeak")]
    | Annotated[FliteConfig, Tag("flite")]
    | Annotated[XttsConfig, Tag("xtts")],
    _backend_or("piper"),
]


class DevicesConfig(_Section):
    """The machine's own microphone and loudspeaker, for `parley listen`."""

    input: str | int | None = Field(
        None, description="microphone: a device name (or part of one) or index; empty: default"
    )
    output: str | int | None = Field(
        None, description="loudspeaker: a device name (or part of one) or index; empty: default"
    )
    echo_cancellation: Literal["webrtc", "off"] = Field(
        "webrtc",
        description="webrtc: what the loudspeaker plays is removed from the microphone (WebRTC's "
        "echo canceller), so Parley can be interrupted while it speaks; off: Parley does not "
        "listen while it speaks (use headphones to talk over it)",
    )
    echo_delay_ms: int | None = Field(
        None,
        ge=0,
        le=1000,
        description="the delay from loudspeaker to microphone the echo canceller starts from; "
        "empty: the devices' own latencies, as PortAudio reports them",
    )


class ServerConfig(_Section):
    host: str = Field("127.0.0.1", description="loopback unless you mean to expose Parley")
    port: int = Field(8765, ge=0, le=65535)
    api_key: SecretStr | None = Field(None, description="else PARLEY_API_KEY, else a generated key")
    allowed_origins: list[str] = Field(default_factory=list, description="extra browser origins")
    client_secret_ttl_s: int = Field(600, ge=10, description="lifetime of browser tokens")
    max_message_bytes: int = Field(
        4 * 1024 * 1024, ge=1024, description="largest WebSocket message"
    )
    max_sessions: int = Field(8, ge=1)
    signing_secret: SecretStr | None = Field(
        None,
        description="signs client secrets and browser tokens; give every worker the same one "
        "(else a random one kept in the data directory)",
    )
    allowed_hosts: list[str] = Field(
        default_factory=list,
        description="extra Host names to answer (a DNS-rebinding guard); '*' answers any",
    )
    max_body_bytes: int = Field(1024 * 1024, ge=1024, description="largest HTTP request body")
    max_audio_s: float = Field(
        600.0, gt=0, description="longest audio decoded from an upload or a file"
    )
    max_text_chars: int = Field(
        8_000, ge=100, description="longest text item, instruction or chat message from a client"
    )
    max_input_buffer_s: float = Field(
        120.0, gt=0, description="most uncommitted audio a realtime client may append"
    )
    max_client_tools: int = Field(32, ge=0, description="most function tools in session.update")
    max_send_stall_s: float = Field(
        5.0, gt=0, description="a client that reads nothing for about twice this is dropped"
    )
    max_connections: int = Field(64, ge=1, description="open HTTP and WebSocket connections")
    header_timeout_s: float = Field(
        10.0, gt=0, description="a new connection must send its request headers within this"
    )

    @model_validator(mode="after")
    def _key_is_long_enough(self) -> ServerConfig:
        if self.api_key is not None and len(self.api_key.get_secret_value().strip()) < 16:
            raise ValueError(
                "server.api_key must be at least 16 characters (an empty or short key would "
                "make every credential guessable); remove it to have Parley generate one"
            )
        if self.signing_secret is not None and len(self.signing_secret.get_secret_value()) < 16:
            raise ValueError(
                "server.signing_secret must be at least 16 characters; make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        return self


class MemoryConfig(_Section):
    is_enabled: bool = Field(True, description="remember facts about the user across conversations")
    is_extracting: bool = Field(True, description="pick up stable personal facts automatically")
    recall_budget_chars: int = Field(600, ge=0, description="room in the prompt for recalled facts")


class McpServerConfig(_Section):
    name: str = Field(min_length=1)
    command: list[str] | None = Field(
        None, description="a stdio server: the command and its arguments"
    )
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = Field(None, description="a streamable HTTP server")
    headers: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r} needs exactly one of `command` or `url`")
        if self.command is not None and not self.command:
            raise ValueError(f"MCP server {self.name!r} has an empty command")
        return self


class McpConfig(_Section):
    servers: list[McpServerConfig] = Field(default_factory=list)
    builtin_tools: bool = Field(True, description="date and time, memory, ending the conversation")
    call_timeout_s: float = Field(10.0, gt=0)
    filler_after_ms: int = Field(700, ge=0, description="say the filler if a tool takes longer")
    filler_text: str = "Let me check."
    route_threshold: float = Field(
        0.25,
        ge=0,
        le=1,
        description="how close a request must be to a tool's description to use it",
    )
    max_result_chars: int = Field(2000, ge=100, description="longer tool results are cut")


class BackupConfig(_Section):
    """Backups the running server takes itself, into the data directory's backups/."""

    every_hours: float | None = Field(
        24.0, gt=0, description="how often; empty: only when asked (`parley backup`)"
    )
    keep: int = Field(7, ge=1, description="the newest this many are kept")


class StoreConfig(_Section):
    """Where conversations and memory live: a SQLite file in the data directory (the default),
    or one PostgreSQL database that any number of workers share."""

    database_name: str = Field("parley.sqlite3", description="the SQLite file, without url")
    url: str | None = Field(
        None,
        description="sqlite:///PATH, or postgresql://USER:PASSWORD@HOST/DB (pgvector installed)",
    )
    pool_size: int = Field(4, ge=1, le=64, description="PostgreSQL connections per worker")
    connect_timeout_s: float = Field(10.0, gt=0, description="to reach PostgreSQL")

    @model_validator(mode="after")
    def _url_names_an_engine(self) -> StoreConfig:
        if self.url is not None and not self.url.startswith(
            ("sqlite:///", "postgresql://", "postgres://")
        ):
            raise ValueError(
                "store.url must start with sqlite:/// (a file) or postgresql:// (a server); "
                "remove it for the data directory's SQLite file"
            )
        return self

    @property
    def is_postgres(self) -> bool:
        return self.url is not None and self.url.startswith(("postgresql://", "postgres://"))


class AlertsConfig(_Section):
    """When the running server raises an alert: shown by `parley monitor` and the page, logged
    once when it starts and once when it clears, and exported in /metrics (parley_alert)."""

    check_every_s: float = Field(5.0, gt=0, le=300, description="how often alerts are judged")
    window_s: float = Field(
        600.0, ge=10, description="the recent turns that latency alerts and advice judge"
    )
    voice_to_voice_p90_ms: float = Field(
        1500.0, gt=0, description="p90 of voice-to-voice latency over the window"
    )
    min_turns: int = Field(3, ge=1, description="turns in the window before latency is judged")
    max_memory_mb: float = Field(
        6144.0, gt=0, description="the server's resident memory (models included)"
    )
    max_cpu_percent: float = Field(
        95.0, gt=0, le=100, description="the machine's CPU, averaged over the last three checks"
    )
    min_disk_free_mb: float = Field(1024.0, ge=0, description="free space for the data directory")
    backup_overdue_factor: float = Field(
        1.5, ge=1, description="a backup is overdue this many intervals after the last one"
    )
