"""The sections of Parley's configuration that shape the service around conversations: devices,
the server and its limits, memory, tools, backups, the store and alerts."""

from __future__ import annotations

from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, model_validator

from parley.config.sections import Section


class DevicesConfig(Section):
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
    wake_word: Literal["okay_nabu", "hey_mycroft", "alexa", "hey_jarvis"] | None = Field(
        None,
        description="wait for this word before listening (microWakeWord, offline); empty: every "
        "utterance is a turn",
    )
    follow_up_s: float = Field(
        5.0,
        ge=0,
        le=60,
        description="with a wake word: after a reply, speech within this long needs no wake "
        "word (twice as long after a question); 0: always say the wake word",
    )
    wake_cue: Literal["chime", "off"] = Field(
        "chime", description="with a wake word: a short chime says Parley is listening"
    )


class WebRtcConfig(Section):
    """``POST /v1/realtime/calls``: the Realtime protocol over WebRTC."""

    host_addresses: list[str] = Field(
        default_factory=list,
        description="addresses offered to a caller as ICE host candidates; empty: the address "
        "server.host binds (loopback stays loopback; 0.0.0.0 offers every interface)",
    )
    ice_servers: list[str] = Field(
        default_factory=list,
        description="STUN or TURN servers (stun:host:port, turn:user:password@host:port) for "
        "callers behind NAT; empty: none, nothing leaves the machine",
    )
    connect_timeout_s: float = Field(
        10.0, gt=0, description="a call whose media does not connect within this is dropped"
    )
    jitter_buffer_frames: int = Field(
        1,
        ge=1,
        le=8,
        description="20 ms frames of a caller's audio held before decoding (aiortc's own is 4, "
        "80 ms later at every end of speech); raise it for callers on lossy or jittery networks",
    )


class ServerConfig(Section):
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
    webrtc: WebRtcConfig = WebRtcConfig()

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


class WyomingConfig(Section):
    """Home Assistant's Wyoming protocol: Parley as its speech-to-text, text-to-speech and
    conversation agent, on a TCP port of its own beside the HTTP server."""

    uri: str | None = Field(
        None,
        description="tcp://HOST:PORT to serve Wyoming on (Home Assistant's default port is "
        "10700); empty: off. Wyoming has no credentials: keep it on loopback, or name the "
        "clients in allowed_clients",
    )
    allowed_clients: list[str] = Field(
        default_factory=list,
        description="addresses or networks (192.168.1.20, 192.168.1.0/24) that may connect; "
        "empty: any that can reach the port",
    )
    max_clients: int = Field(16, ge=1, description="connections served at once")
    max_event_bytes: int = Field(
        1024 * 1024, ge=4096, description="largest event header, data or payload a client sends"
    )
    max_audio_s: float = Field(120.0, gt=0, description="longest audio one transcribe takes")
    idle_timeout_s: float = Field(
        120.0, gt=0, description="a client that sends nothing for this long is disconnected"
    )
    is_announcing: bool = Field(
        False, description="announce the service over Zeroconf (_wyoming._tcp) for discovery"
    )

    @model_validator(mode="after")
    def _uri_is_tcp(self) -> WyomingConfig:
        if self.uri is not None:
            host_port(self.uri)
        return self


def host_port(uri: str) -> tuple[str, int]:
    """The host and port of a tcp://HOST:PORT address, or a ValueError saying what is wrong."""
    parsed = urlsplit(uri)
    try:
        port = parsed.port
    except ValueError:
        port = None
    if parsed.scheme != "tcp" or not parsed.hostname or port is None:
        raise ValueError(
            f"wyoming.uri {uri!r} is not tcp://HOST:PORT (for example tcp://127.0.0.1:10700)"
        )
    return parsed.hostname, port


class MemoryConfig(Section):
    is_enabled: bool = Field(True, description="remember facts about the user across conversations")
    is_extracting: bool = Field(
        False,
        description="also keep personal facts said without being asked to remember them "
        "(off: only what the user asks Parley to remember is stored)",
    )
    recall_budget_chars: int = Field(600, ge=0, description="room in the prompt for recalled facts")


class McpServerConfig(Section):
    name: str = Field(min_length=1)
    command: list[str] | None = Field(
        None, description="a stdio server: the command and its arguments"
    )
    env: dict[str, str] = Field(default_factory=dict)
    url: str | None = Field(None, description="a streamable HTTP server")
    headers: dict[str, str] = Field(default_factory=dict)
    examples: dict[str, list[str]] = Field(
        default_factory=dict,
        description="per tool name, requests in a user's words that should call it: the "
        "router compares each request with these as well as with the tool's description",
    )

    @model_validator(mode="after")
    def _one_transport(self) -> McpServerConfig:
        if (self.command is None) == (self.url is None):
            raise ValueError(f"MCP server {self.name!r} needs exactly one of `command` or `url`")
        if self.command is not None and not self.command:
            raise ValueError(f"MCP server {self.name!r} has an empty command")
        return self


class McpConfig(Section):
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


class BackupConfig(Section):
    """Backups the running server takes itself, into the data directory's backups/."""

    every_hours: float | None = Field(
        24.0, gt=0, description="how often; empty: only when asked (`parley backup`)"
    )
    keep: int = Field(7, ge=1, description="the newest this many are kept")


class StoreConfig(Section):
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


class AlertsConfig(Section):
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
