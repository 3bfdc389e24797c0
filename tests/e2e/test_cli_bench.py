"""`parley bench` from the command line: it runs, measures, and says what it measured."""

import json
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RunningServer

Cli = Callable[..., subprocess.CompletedProcess[str]]


@pytest.mark.slow
# Every trial of the bench runs here, most in real time (one pause-trial question at three
# pause lengths, the echo room, the memory trial).
@pytest.mark.timeout(900)
def test_bench_prints_medians_and_a_plot_from_spoken_prompts(
    parley_cli: Cli, piper_speech: Callable[..., Path], tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts"
    prompts.mkdir()
    for index, text in enumerate(["What is the capital of France?", "What do bees make?"]):
        shutil.copy(piper_speech(text), prompts / f"{index}.wav")
        (prompts / f"{index}.txt").write_text(text + "\n")
    plot = tmp_path / "latency.png"
    done = parley_cli(
        "bench",
        "--audio-dir",
        str(prompts),
        "--warmup",
        "1",
        "--interruptions",
        "1",
        "--echo-trials",
        "1",
        "--pauses",
        "1",
        "--json",
        "--plot",
        str(plot),
        timeout_s=840,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["turns"] == 2
    assert report["machine"]["cpu"] and report["machine"]["cores"] >= 1
    assert "avx2" in report["machine"]["simd"]  # every machine this project runs on has it
    figures = report["figures"]
    for name in ("voice_to_voice_ms", "llm_ttft_ms", "tts_first_audio_ms", "endpoint_ms"):
        assert figures[name]["n"] == 2 and figures[name]["median"] > 0, name
    assert figures["interruption_ms"]["n"] == 1 and figures["interruption_ms"]["median"] > 0
    assert report["word_error_rate"] is not None and report["word_error_rate"] < 0.5
    # What Parley heard at each pause, beside Whisper's own decode of each whole utterance.
    accuracy = report["transcript_accuracy"]
    assert set(accuracy) == {"prompts", "memory trial", "pause trial"}
    assert accuracy["prompts"]["utterances"] == 2
    assert accuracy["prompts"]["live_wer"] == report["word_error_rate"]
    assert 0 <= accuracy["prompts"]["whole_decode_wer"] < 0.5
    assert report["cold_start"]["model_load_s"] > 0
    assert 0 <= report["others_busy_cores"] <= report["machine"]["cores"]
    assert 0.0 <= report["speculative_share"] <= 1.0
    partials = report["partial_transcripts"]  # decoded while each question was spoken
    assert partials["turns"] == 2
    assert partials["decode_ms"]["n"] >= 1 and partials["decode_ms"]["median"] > 0
    assert [p["prompt"] for p in report["per_prompt"]] == [
        "What is the capital of France?",
        "What do bees make?",
    ]
    assert "paris" in report["per_prompt"][0]["reply"].lower()
    # The trials: a fact, a question it answers and one it must stay out of; questions with a
    # pause in them, of which some share may have been cut at the pause.
    memory = report["memory_trial"]
    assert [m["prompt"] for m in memory][1:] == [
        "What is my favourite colour?",
        "What time is it right now?",
    ]
    assert "teal" in memory[0]["reply"].lower()  # Parley's own confirmation
    assert "alice" not in memory[2]["reply"].lower()
    assert report["replies_on_point"]["judged"] == 3  # the folder's prompts carry no answers
    assert len(report["pause_trial"]) == 3  # one question, with each of three pause lengths
    assert set(report["premature_end_rate_by_pause_ms"]) == {"250", "350", "500"}
    assert 0.0 <= report["premature_end_rate"] <= 1.0
    # In the simulated room, with echo cancellation: "uh-huh" and a cough cut nothing, and a
    # new question over the reply silenced it.
    echo = report["echo"]["on"]
    assert (echo["replies"], echo["false_interruptions"]) == (1, 0), echo["judged_wrong"]
    assert (echo["barge_ins"], echo["barge_ins_heard"]) == (1, 1), echo["judged_wrong"]
    assert echo["interruption_ms"]["n"] == 1 and echo["interruption_ms"]["median"] > 0
    assert report["echo"]["off"]["replies"] == 1
    assert plot.stat().st_size > 10_000 and plot.read_bytes()[:4] == b"\x89PNG"


def test_bench_with_an_empty_prompt_folder_is_a_clear_error(
    parley_cli: Cli, tmp_path: Path
) -> None:
    done = parley_cli("bench", "--audio-dir", str(tmp_path))
    assert (
        done.returncode == 4 and "No .wav prompts" in done.stderr and "Traceback" not in done.stderr
    )


def bench_server(
    parley_cli: Cli, server: RunningServer, prompts: Path, *options: str
) -> dict[str, Any]:
    """`parley bench --server` on a folder of prompts, its JSON report."""
    done = parley_cli(
        "bench",
        "--server",
        f"http://127.0.0.1:{server.port}",
        "--audio-dir",
        str(prompts),
        "--json",
        *options,
        env={"PARLEY_API_KEY": server.api_key},
    )
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = json.loads(done.stdout)
    return report


def one_prompt(piper_speech: Callable[..., Path], folder: Path, text: str) -> Path:
    """A prompt folder holding one spoken question and its words."""
    folder.mkdir()
    shutil.copy(piper_speech(text), folder / "0.wav")
    (folder / "0.txt").write_text(text + "\n")
    return folder


@pytest.mark.slow
def test_bench_loads_a_running_server_with_concurrent_sessions(
    parley_cli: Cli, piper_speech: Callable[..., Path], tmp_path: Path, server: RunningServer
) -> None:
    prompts = one_prompt(piper_speech, tmp_path / "prompts", "What do bees make?")
    report = bench_server(parley_cli, server, prompts, "--sessions", "1,2")
    assert [step["sessions"] for step in report["load"]] == [1, 2]
    assert [step["turns"] for step in report["load"]] == [1, 2]
    assert all(step["failed_turns"] == 0 for step in report["load"])
    assert all(step["voice_to_voice_ms"]["median"] > 0 for step in report["load"])
    assert all(step["server_rss_mib_after"] > 100 for step in report["load"])


def test_the_wake_trial_hears_okay_nabu_and_wakes_on_nothing_else(parley_cli) -> None:  # type: ignore[no-untyped-def]
    import json

    done = parley_cli("bench", "--wake-trial", "okay_nabu", "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert report["detection_rate"] >= 0.8
    assert report["by_voice"]["piper"] == "3/3"
    assert report["false_wakes"] == 0 and report["other_speech_s"] > 120
    assert 0 < report["name_end_to_detection_ms"]["median"] < 500
    assert report["cpu_share_of_one_core"] < 0.02


@pytest.mark.slow
def test_bench_times_a_running_server_over_a_webrtc_call(
    parley_cli: Cli, piper_speech: Callable[..., Path], tmp_path: Path, server: RunningServer
) -> None:
    prompts = one_prompt(piper_speech, tmp_path / "prompts", "What is the capital of France?")
    report = bench_server(parley_cli, server, prompts, "--transport", "webrtc", "--warmup", "0")
    turn = report["per_prompt"][0]
    assert "capital of" in turn["transcript"].lower()
    assert "paris" in turn["reply"].lower()
    assert turn["voice_to_voice_ms"] > 0  # the reply's first sound reached the caller
