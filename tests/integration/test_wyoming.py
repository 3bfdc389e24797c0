"""Parley as Home Assistant sees it over Wyoming, driven by real clients: the `wyoming` package's
own AsyncTcpClient and the third-party `wyoming-bench`, against a real server on a loopback
port, with the real models."""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from wyoming.asr import Transcribe, Transcript
from wyoming.audio import AudioChunk, AudioStart, AudioStop
from wyoming.client import AsyncTcpClient
from wyoming.event import Event
from wyoming.handle import Handled, HandledChunk
from wyoming.info import Describe, Info
from wyoming.tts import Synthesize, SynthesizeChunk, SynthesizeStart, SynthesizeStop

from parley.audio.pcm import decode_file, resample
from parley.config.settings import MemoryConfig, WyomingConfig
from tests.conftest import REPO, RunningServer, free_port, running_server, sounds_like

READ_TIMEOUT_S = 60


@pytest.fixture(scope="module")
def wyoming_server(
    backends, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[RunningServer, int]]:  # type: ignore[no-untyped-def]
    """Parley with Wyoming on a port of its own; memory off, so whatever a second turn knows
    of the first came from the conversation itself."""
    port = free_port()
    with running_server(
        backends,
        tmp_path_factory.mktemp("wyoming-data"),
        wyoming=WyomingConfig(uri=f"tcp://127.0.0.1:{port}"),
        memory=MemoryConfig(is_enabled=False),
    ) as running:
        yield running, port


@pytest.fixture
def port(wyoming_server: tuple[RunningServer, int]) -> int:
    return wyoming_server[1]


def client(port: int) -> AsyncTcpClient:
    return AsyncTcpClient("127.0.0.1", port, connect_timeout=10, read_timeout=READ_TIMEOUT_S)


async def read_until(connection: AsyncTcpClient, last_type: str) -> list[Event]:
    events: list[Event] = []
    while (event := await connection.read_event()) is not None:
        events.append(event)
        if event.type in (last_type, "error"):
            break
    return events


async def send_audio(
    connection: AsyncTcpClient,
    samples: np.ndarray,
    rate_hz: int,
    *,
    chunk_ms: int = 100,
    is_paced: bool = False,
) -> None:
    step = rate_hz * chunk_ms // 1000
    for start in range(0, samples.size, step):
        pcm = samples[start : start + step].astype("<i2").tobytes()
        await connection.write_event(
            AudioChunk(rate=rate_hz, width=2, channels=1, audio=pcm).event()
        )
        if is_paced:
            await asyncio.sleep(chunk_ms / 1000)


def audio_of(events: list[Event]) -> tuple[np.ndarray, int]:
    chunks = [event for event in events if event.type == "audio-chunk"]
    assert chunks, [event.type for event in events]
    pcm = b"".join(event.payload or b"" for event in chunks)
    return np.frombuffer(pcm, "<i2").copy(), int(chunks[0].data["rate"])


def wyoming_bench(*args: str) -> str:
    executable = shutil.which("wyoming-bench") or str(REPO / ".venv" / "bin" / "wyoming-bench")
    done = subprocess.run(
        [executable, *args], capture_output=True, text=True, timeout=600, check=False
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


# ---- describe ------------------------------------------------------------------------------


async def test_describe_names_the_three_streaming_programs_and_every_offline_voice(
    port: int,
) -> None:
    async with client(port) as connection:
        await connection.write_event(Describe().event())
        info = Info.from_event(await connection.read_event())  # type: ignore[arg-type]
    assert [program.name for program in info.asr] == ["parley-asr"]
    assert info.asr[0].supports_transcript_streaming
    assert info.asr[0].models[0].languages == ["en"]
    assert info.tts[0].supports_synthesize_streaming
    voices = {voice.name: voice.languages for voice in info.tts[0].voices}
    assert voices["en_US-joe-medium"] == ["en-us"]
    assert voices["espeak-fr-fr"] == ["fr-fr"]
    assert len(voices) == len(info.tts[0].voices), "a voice is listed twice"
    assert info.handle[0].supports_handled_streaming


def test_wyoming_bench_sees_asr_tts_and_handle(port: int) -> None:
    report = wyoming_bench("info", f"127.0.0.1:{port}")
    assert "parley-asr (transcript streaming)" in report
    assert "parley-tts (synthesize streaming)" in report
    assert "handle" in report


# ---- text-to-speech --------------------------------------------------------------------------


def test_wyoming_bench_tts_succeeds_whole_and_streamed(port: int) -> None:
    report = wyoming_bench("tts", f"127.0.0.1:{port}", "--rounds", "1", "--warmup", "0")
    assert "[non_streaming] ok=4 fail=0" in report, report
    assert "[streaming] ok=4 fail=0" in report, report


async def test_streamed_text_is_spoken_a_sentence_at_a_time_and_heard_back(
    port: int, whisper_check
) -> None:  # type: ignore[no-untyped-def]
    async with client(port) as connection:
        await connection.write_event(SynthesizeStart().event())
        text = "The kitchen light is on. The front door is locked."
        for word in text.split(" "):
            await connection.write_event(SynthesizeChunk(word + " ").event())
        # Home Assistant sends the whole text too, for older servers: it is not spoken twice.
        await connection.write_event(Synthesize(text).event())
        await connection.write_event(SynthesizeStop().event())
        events = await read_until(connection, "synthesize-stopped")
    kinds = [event.type for event in events if event.type != "audio-chunk"]
    assert kinds == ["audio-start", "audio-stop", "audio-start", "audio-stop", "synthesize-stopped"]
    heard = whisper_check(*audio_of(events)).lower()
    assert "kitchen" in heard and "locked" in heard
    assert heard.count("kitchen") == 1


async def test_a_voice_is_chosen_by_name_or_language_and_an_unknown_one_is_an_error(
    port: int, whisper_check
) -> None:  # type: ignore[no-untyped-def]
    async with client(port) as connection:
        await connection.write_event(
            Event("synthesize", {"text": "Good morning.", "voice": {"name": "flite-slt"}})
        )
        flite = await read_until(connection, "audio-stop")
        await connection.write_event(
            Event("synthesize", {"text": "Bonjour.", "voice": {"language": "fr"}})
        )
        french = await read_until(connection, "audio-stop")
        await connection.write_event(
            Event("synthesize", {"text": "Hello.", "voice": {"name": "no-such-voice"}})
        )
        unknown = await read_until(connection, "audio-stop")
    assert flite[0].data["rate"] != 22_050  # flite speaks at its own rate, not Piper's
    assert "morning" in whisper_check(*audio_of(flite)).lower()
    assert french[0].type == "audio-start" and audio_of(french)[0].size > 0
    assert unknown[-1].type == "error" and unknown[-1].data["code"] == "unknown_voice"
    assert "parley voices" in unknown[-1].data["text"]


# ---- speech-to-text --------------------------------------------------------------------------


async def test_parley_ends_the_utterance_itself_and_streams_words_before_the_transcript(
    port: int, piper_speech
) -> None:  # type: ignore[no-untyped-def]
    said = "Please turn on the lights in the kitchen and close the blinds in the living room."
    samples = decode_file(piper_speech(said))
    room = np.zeros(16_000 // 10, np.int16)  # a tenth of a second of the room, after
    async with client(port) as connection:
        await connection.write_event(Transcribe(language="en").event())
        await connection.write_event(AudioStart(rate=16_000, width=2, channels=1).event())
        reading = asyncio.create_task(read_until(connection, "transcript-stop"))
        await send_audio(connection, samples, 16_000, is_paced=True)
        # The room goes on as a microphone's would, until Parley answers (on a busy machine
        # the final decode takes longer than on an idle one; no fixed silence is long enough).
        for _ in range(300):
            if reading.done():
                break
            await send_audio(connection, room, 16_000, is_paced=True)
        # Parley heard the end in the silence: everything was answered before audio-stop.
        assert reading.done()
        events = reading.result()
        await connection.write_event(AudioStop().event())
    kinds = [event.type for event in events]
    assert kinds[0] == "transcript-start" and kinds[-2:] == ["transcript", "transcript-stop"]
    assert kinds.count("transcript-chunk") >= 2, kinds  # words while the user still spoke
    final = Transcript.from_event(events[-2]).text
    assert "kitchen" in final.lower() and "blinds" in final.lower()
    streamed = "".join(event.data["text"] for event in events if event.type == "transcript-chunk")
    assert final.lower().startswith(streamed.lower().rstrip(".,"))


async def test_audio_at_any_rate_width_and_channels_is_heard_even_when_it_changes_mid_stream(
    port: int, piper_speech
) -> None:  # type: ignore[no-untyped-def]
    samples = decode_file(piper_speech("What is the weather like in Paris tomorrow?"))
    half = samples.size // 2
    first = resample(samples[:half], 16_000, 48_000)
    stereo = np.repeat(first[:, None], 2, axis=1).reshape(-1)  # 48 kHz stereo
    second = resample(samples[half:], 16_000, 22_050)
    async with client(port) as connection:
        await connection.write_event(Transcribe().event())
        await connection.write_event(AudioStart(rate=48_000, width=2, channels=2).event())
        step = 48_000 * 2 // 10
        for start in range(0, stereo.size, step):
            pcm = stereo[start : start + step].astype("<i2").tobytes()
            await connection.write_event(
                AudioChunk(rate=48_000, width=2, channels=2, audio=pcm).event()
            )
        await send_audio(connection, second, 22_050)  # mono, and another rate
        await connection.write_event(AudioStop().event())
        events = await read_until(connection, "transcript-stop")
    assert not [event for event in events if event.type == "error"]
    final = next(event for event in events if event.type == "transcript").data["text"]
    assert "weather" in final.lower() and sounds_like("paris", final)
    assert "tomorrow" in final.lower()  # the half after the change was heard too


async def test_silence_is_an_empty_transcript_not_words_made_up(port: int) -> None:
    async with client(port) as connection:
        await connection.write_event(Transcribe().event())
        await connection.write_event(AudioStart(rate=16_000, width=2, channels=1).event())
        await send_audio(connection, np.zeros(16_000 * 2, np.int16), 16_000)
        await connection.write_event(AudioStop().event())
        events = await read_until(connection, "transcript-stop")
    assert next(event for event in events if event.type == "transcript").data["text"] == ""


# ---- the conversation agent ------------------------------------------------------------------


async def test_the_agent_streams_its_answer_and_continues_the_conversation_by_its_id(
    wyoming_server: tuple[RunningServer, int], parley_cli
) -> None:  # type: ignore[no-untyped-def]
    server, port = wyoming_server
    context = {"conversation_id": "01JHOMEASSISTANT0000000001"}
    async with client(port) as connection:
        await connection.write_event(
            Transcript("What is the capital of France?", context=context).event()
        )
        first = await read_until(connection, "handled-stop")
        await connection.write_event(
            Transcript("I am reading a book called The Hobbit.", context=context).event()
        )
        await read_until(connection, "handled-stop")
    async with client(port) as connection:  # a new connection, as Home Assistant makes
        await connection.write_event(
            Transcript("What is the name of the book I am reading?", context=context).event()
        )
        third = await read_until(connection, "handled-stop")

    kinds = [event.type for event in first]
    assert kinds[0] == "handled-start" and kinds[-2:] == ["handled", "handled-stop"]
    assert "handled-chunk" in kinds
    chunks = "".join(HandledChunk.from_event(e).text for e in first if e.type == "handled-chunk")
    answer = Handled.from_event(first[-2])
    assert "paris" in chunks.lower() and answer.text == chunks.strip()
    assert answer.context == context
    assert "hobbit" in (Handled.from_event(third[-2]).text or "").lower()

    listed = parley_cli("conversations", "list", env={"PARLEY_DATA_DIR": str(server.data_dir)})
    assert listed.returncode == 0, listed.stderr
    conversation_id = listed.stdout.split()[0]
    shown = parley_cli(
        "conversations", "show", conversation_id, env={"PARLEY_DATA_DIR": str(server.data_dir)}
    )
    assert "What is the capital of France?" in shown.stdout
    assert "What is the name of the book I am reading?" in shown.stdout


async def test_an_empty_transcript_is_not_handled_with_a_reason(port: int) -> None:
    async with client(port) as connection:
        await connection.write_event(Transcript("   ").event())
        events = await read_until(connection, "not-handled")
    assert events[-1].type == "not-handled" and "nothing" in events[-1].data["text"]


def test_wyoming_bench_stt_hears_as_well_as_parley_talk(
    port: int, backends, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    corpus = tmp_path / "corpus"
    wyoming_bench("generate-corpus", f"127.0.0.1:{port}", "--out", str(corpus))
    wyoming_bench(
        "generate-corpus",
        f"127.0.0.1:{port}",
        "--out",
        str(corpus),
        "--prefix",
        "slt",
        "--config",
        '{"voice": "flite-slt"}',
    )
    report = wyoming_bench("stt", f"127.0.0.1:{port}", "--corpus", str(corpus), "--rounds", "1")
    assert "[non_streaming] ok=8 fail=0" in report, report
    assert "[streaming] ok=8 fail=0" in report, report
    wyoming_errors = [int(e) for e in re.findall(r"edits S=(\d+) I=(\d+) D=(\d+)", report)[0]]
    talk_errors = talk_word_errors(backends, corpus)
    assert sum(wyoming_errors) <= talk_errors, (report, talk_errors)


def talk_word_errors(backends, corpus: Path) -> int:  # type: ignore[no-untyped-def]
    """The word errors `parley talk` makes on the corpus (its whole pipeline, fed each file as
    fast as it can take it), scored as wyoming-bench scores them."""
    from wyoming_bench.stt.accuracy import word_accuracy

    from parley.audio.virtual_devices import CollectingSink, frames_from_samples
    from parley.config.settings import load_settings
    from parley.pipeline.events import FinalTranscript
    from parley.pipeline.runtime import Runtime
    from parley.pipeline.session_options import SessionOptions

    async def talk(path: Path, runtime: Runtime) -> str:
        heard: list[str] = []

        def observe(event: object) -> None:
            if isinstance(event, FinalTranscript) and event.text:
                heard.append(event.text)

        session = runtime.session(sink=CollectingSink(), observer=observe)
        session.options = SessionOptions(is_replying_automatically=False)
        await session.listen(
            frames_from_samples(
                decode_file(path),
                frame_ms=20,
                is_realtime=False,
                trailing_silence_ms=backends.settings.vad.end_silence_ms + 300,
                keep_going=lambda: session.is_listening_busy,
            )
        )
        return " ".join(heard)

    files = [
        (wav, wav.with_suffix(".txt").read_text().strip()) for wav in sorted(corpus.glob("*.wav"))
    ]

    async def all_files() -> int:
        settings = load_settings(profile="testing", data_dir=backends.settings.data_dir)
        errors = 0
        async with Runtime.open(
            settings, backends=backends, database_path=corpus / "talk.db"
        ) as runtime:
            for wav, said in files:
                errors += word_accuracy(await talk(wav, runtime), said)["errors"]
        return errors

    return asyncio.run(all_files())


def test_parley_bench_measures_a_wyoming_server_from_the_client(port: int, parley_cli) -> None:  # type: ignore[no-untyped-def]
    import json

    from parley.bench.prompts import DEFAULT_PROMPTS

    done = parley_cli("bench", "--wyoming", f"tcp://127.0.0.1:{port}", "--json", timeout_s=600)
    assert done.returncode == 0, done.stderr
    [report] = json.loads(done.stdout)["servers"]
    assert report["asr"]["program"] == "parley-asr"
    assert report["asr"]["stop_to_transcript_ms"]["n"] == len(DEFAULT_PROMPTS)
    assert report["asr"]["word_error_rate"] < 0.3
    assert report["tts"]["sentences_held_until_stop"] == 0  # each spoken when complete
    assert report["tts"]["streamed_first_audio_ms"]["n"] == 3
    assert report["handle"]["first_chunk_ms"]["n"] == len(DEFAULT_PROMPTS)
