"""`parley talk`, `chat` and `doctor` as a user runs them: a subprocess, real models, real files."""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import soundfile

from parley.memory.database import sqlite3
from parley.models.catalogue import QWEN_0_5B
from tests.conftest import sounds_like

Cli = Callable[..., subprocess.CompletedProcess[str]]
# The testing profile's LLM, the one `parley chat` loads here.
QWEN_FILE_NAME = QWEN_0_5B.file_name


def talk_json(cli: Cli, audio: Path, output: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    done = cli("talk", str(audio), "--output", str(output), "--json", "--fast", *extra)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


@pytest.mark.slow
def test_talk_answers_a_spoken_question_with_spoken_words(
    piper_speech: Callable[..., Path],
    parley_cli: Cli,
    speech: Callable[..., Path],
    tmp_path: Path,
    whisper_check: Callable[[np.ndarray, int], str],
) -> None:
    output = tmp_path / "reply.wav"
    result = talk_json(parley_cli, piper_speech("What is the capital of France?"), output)
    assert "capital of france" in result["transcript"].lower()
    assert "paris" in result["reply_text"].lower()
    for name in ("stt_ms", "llm_ttft_ms", "tts_first_audio_ms", "voice_to_voice_ms"):
        assert result["metrics"][name] > 0
    samples, rate = soundfile.read(output, dtype="int16")
    assert rate == 24_000
    assert result["reply_audio_seconds"] == pytest.approx(samples.size / rate, abs=0.01)
    assert sounds_like("paris", whisper_check(samples, rate))


@pytest.mark.slow
def test_talk_reads_stereo_mp3_and_flac_at_any_rate(
    parley_cli: Cli, speech: Callable[..., Path], tmp_path: Path
) -> None:
    source = speech("What is the capital of Germany?")
    for name, options in (
        ("q.mp3", ["-r", "44100", "-c", "2"]),
        ("q.flac", ["-r", "48000", "-c", "2"]),
    ):
        converted = tmp_path / name
        subprocess.run(["sox", str(source), *options, str(converted)], check=True)
        result = talk_json(parley_cli, converted, tmp_path / f"{name}.wav")
        assert "germany" in result["transcript"].lower()
        assert "berlin" in result["reply_text"].lower()


@pytest.mark.slow
def test_talk_in_real_time_prints_the_transcript_and_reply_as_they_stream(
    piper_speech: Callable[..., Path], parley_cli: Cli, speech: Callable[..., Path], tmp_path: Path
) -> None:
    done = parley_cli(
        "talk",
        str(piper_speech("What is the capital of France?")),
        "--output",
        str(tmp_path / "r.wav"),
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].lower().startswith("you: what is the capital of france")
    assert lines[1].startswith("parley: ") and "paris" in lines[1].lower()


@pytest.mark.slow
def test_a_conversation_continues_with_its_history(
    parley_cli: Cli, speech: Callable[..., Path], tmp_path: Path, data_dir: Path
) -> None:
    first = talk_json(parley_cli, speech("My name is Alice."), tmp_path / "1.wav")
    second = talk_json(
        parley_cli,
        speech("What is my name?"),
        tmp_path / "2.wav",
        "--conversation",
        first["conversation_id"],
    )
    assert second["conversation_id"] == first["conversation_id"]
    assert "alice" in second["reply_text"].lower()
    third = talk_json(parley_cli, speech("What is my name?"), tmp_path / "3.wav")
    assert third["conversation_id"] != first["conversation_id"]
    rows = (
        sqlite3.connect(data_dir / "parley.sqlite3")
        .execute(
            "SELECT role, content FROM messages WHERE conversation_id = ? ORDER BY id",
            (first["conversation_id"],),
        )
        .fetchall()
    )
    assert [role for role, _ in rows] == ["user", "assistant", "user", "assistant"]
    assert rows[0][1].lower().startswith("my name is alice")


@pytest.mark.slow
def test_chat_streams_a_text_reply(parley_cli: Cli) -> None:
    done = parley_cli("chat", "What is the capital of France?", "--json")
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout)
    assert "paris" in result["reply_text"].lower() and result["conversation_id"]
    plain = parley_cli("chat", "What is the capital of Spain?")
    assert plain.returncode == 0 and "madrid" in plain.stdout.lower()


def assert_clean_failure(
    done: subprocess.CompletedProcess[str], status: int, *phrases: str
) -> None:
    assert done.returncode == status, (done.returncode, done.stderr)
    assert "Traceback" not in done.stderr
    for phrase in phrases:
        assert phrase in done.stderr, done.stderr


def test_unreadable_audio_is_a_clear_error(parley_cli: Cli, tmp_path: Path) -> None:
    junk = tmp_path / "junk.wav"
    junk.write_bytes(b"RIFF not really a wave file" * 10)
    assert_clean_failure(
        parley_cli("talk", str(junk), "-o", str(tmp_path / "o.wav")), 4, "Cannot decode", "junk.wav"
    )
    assert_clean_failure(
        parley_cli("talk", str(tmp_path / "missing.wav"), "-o", str(tmp_path / "o.wav")),
        4,
        "does not exist",
    )


def test_empty_audio_is_a_clear_error(parley_cli: Cli, tmp_path: Path) -> None:
    empty = tmp_path / "empty.wav"
    soundfile.write(empty, np.zeros(0, dtype=np.int16), 16_000)
    assert_clean_failure(
        parley_cli("talk", str(empty), "-o", str(tmp_path / "o.wav")), 4, "holds no audio"
    )


@pytest.mark.slow
def test_audio_without_speech_says_so(parley_cli: Cli, tmp_path: Path) -> None:
    quiet = tmp_path / "quiet.wav"
    soundfile.write(quiet, np.zeros(16_000 * 2, dtype=np.int16), 16_000)
    done = parley_cli("talk", str(quiet), "-o", str(tmp_path / "o.wav"), "--fast")
    assert_clean_failure(done, 5, "No speech was detected")
    assert not (tmp_path / "o.wav").exists()


def test_an_unknown_config_key_names_the_key_and_the_file(parley_cli: Cli, tmp_path: Path) -> None:
    config = tmp_path / "parley.yaml"
    config.write_text("stt:\n  modle: base\n")
    done = parley_cli("chat", "hi", "--config", str(config))
    assert_clean_failure(done, 2, "stt.modle", str(config))
    done = parley_cli("chat", "hi", env={"PARLEY_VAD__THRESHOLD": "loud"})
    assert_clean_failure(done, 2, "vad.threshold")


def broken_models_dir(tmp_path: Path, models_dir: Path) -> Path:
    """A data dir whose models are real copies (links), so one can be damaged."""
    data = tmp_path / "broken-data"
    (data / "models").mkdir(parents=True)
    for entry in models_dir.iterdir():
        (data / "models" / entry.name).symlink_to(entry)
    return data


def test_a_gguf_assembled_wrongly_is_caught_by_size(
    parley_cli: Cli, tmp_path: Path, models_dir: Path
) -> None:
    data = broken_models_dir(tmp_path, models_dir)
    gguf = data / "models" / QWEN_FILE_NAME
    gguf.unlink()
    with (models_dir / QWEN_FILE_NAME).open("rb") as source:
        gguf.write_bytes(source.read(5_000_000))  # a truncated copy: right magic, wrong size
    done = parley_cli("chat", "hi", "--data-dir", str(data))
    assert_clean_failure(done, 3, "joined wrongly", "Delete it")


def test_a_file_that_is_not_gguf_is_caught_by_magic(
    parley_cli: Cli, tmp_path: Path, models_dir: Path
) -> None:
    data = broken_models_dir(tmp_path, models_dir)
    gguf = data / "models" / QWEN_FILE_NAME
    gguf.unlink()
    gguf.write_bytes(b"\x00" * 1024)
    assert_clean_failure(
        parley_cli("chat", "hi", "--data-dir", str(data)), 3, "is not a GGUF model"
    )


def test_a_missing_model_says_how_to_assemble_it(parley_cli: Cli, tmp_path: Path) -> None:
    done = parley_cli("chat", "hi", "--data-dir", str(tmp_path / "empty-data"))
    assert_clean_failure(done, 3, "missing", "parley models install")


def test_a_corrupt_whisper_model_is_a_clear_error(
    parley_cli: Cli, tmp_path: Path, models_dir: Path
) -> None:
    data = broken_models_dir(tmp_path, models_dir)
    whisper = data / "models" / "whisper-tiny.en"
    whisper.unlink()
    shutil.copytree(models_dir / "whisper-tiny.en", whisper)
    (whisper / "model.bin").write_bytes(b"garbage" * 1000)
    assert_clean_failure(parley_cli("chat", "hi", "--data-dir", str(data)), 3, "cannot load")


def test_doctor_passes_with_the_models_and_explains_what_is_missing_without(
    parley_cli: Cli, tmp_path: Path
) -> None:
    healthy = parley_cli("doctor")
    assert healthy.returncode == 0, healthy.stdout + healthy.stderr
    assert "qwen2.5" in healthy.stdout
    assert "Whisper tiny.en" in healthy.stdout  # which model hears, and how it chooses
    empty = parley_cli("doctor", "--data-dir", str(tmp_path / "nothing-here"))
    assert empty.returncode == 1
    assert "parley models install" in empty.stdout.replace("\n", " ") or "make run" in empty.stdout


@pytest.mark.slow
def test_a_long_recording_fed_fast_is_heard_whole(
    parley_cli: Cli, speech: Callable[..., Path], tmp_path: Path
) -> None:
    """--fast feeds a file as fast as it can be read: every frame must still be heard (the
    listener once dropped most of a long speech when it fell behind)."""
    sentences = [
        "And so my fellow citizens, ask not what the city can do for you.",
        "Ask what you can do for the city, and for the people who live in it.",
        "We choose to plant a garden this year, not because it is easy, but because it is hard.",
        "The rain in the valley falls mainly on the farmers and their fields of wheat.",
        "Tomorrow we will meet again at the old library beside the river.",
    ]
    pause = np.zeros(4_000, np.int16)  # 0.25 s: shorter than the end of a turn
    pieces = []
    for sentence in sentences:
        samples, rate = soundfile.read(speech(sentence), dtype="int16")
        pieces += [samples, pause]
    recording = tmp_path / "speech.wav"
    soundfile.write(recording, np.concatenate(pieces), rate, subtype="PCM_16")
    assert sum(p.size for p in pieces) / rate > 20
    result = talk_json(parley_cli, recording, tmp_path / "reply.wav")
    heard = result["transcript"].lower()  # every turn heard, whether it was answered or not
    for first_and_last in ("fellow", "citizens", "garden", "wheat", "library", "river"):
        assert first_and_last in heard, heard
