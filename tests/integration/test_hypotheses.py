"""Whisper's beam hypotheses chosen by sense: the real SmolLM2-135M weighing real tiny.en decodes."""

import concurrent.futures
import logging
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import llama_cpp
import numpy as np
import pytest

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ
from parley.audio.pcm import resample
from parley.config.settings import load_settings
from parley.models.catalogue import SENTENCE_SCORER, wheel_member_path
from parley.models.contracts import ChatMessage
from parley.models.hypotheses import plain_words
from parley.models.llama_cpp_llm import LlamaCppLlm
from parley.models.loaded import Backends
from parley.models.sentence_scorer import LlamaSentenceScorer
from parley.models.spare_cores import SpareCores
from parley.models.whisper_stt import WhisperStt


@pytest.fixture(scope="module")
def scorer(models_dir: Path) -> Iterator[LlamaSentenceScorer]:
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        scorer = LlamaSentenceScorer(
            wheel_member_path(models_dir, SENTENCE_SCORER),
            threads=2,
            spare_cores=SpareCores(),
            run=lambda call: thread.submit(call).result(),
        )
        yield scorer
        scorer.close()


def test_the_small_model_finds_what_people_say_likelier_than_what_sounds_alike(
    scorer: LlamaSentenceScorer,
) -> None:
    said, misheard, cut_short = scorer.log_probabilities(
        [
            "What is the largest mammal?",
            "What is the largest manual?",
            "What is the largest",
        ]
    )
    assert said > misheard
    assert said > cut_short  # the message is read to its end
    # Read again in another order, each sentence scores as before: nothing leaks between them
    # (llama.cpp's sums differ in their last digits with how many tokens it reads at once).
    again = scorer.log_probabilities(["What is the largest", "What is the largest mammal?"])
    assert again == pytest.approx([cut_short, said], rel=0.01)


async def test_whisper_with_the_scorer_hears_each_question_of_a_voice_it_mishears(
    backends: Backends, scorer: LlamaSentenceScorer, models_dir: Path, tmp_path: Path
) -> None:
    """flite's slt voice, whose questions tiny.en's first hypothesis gets a word wrong in
    ("the largest manual", "the closest start to the earth"): with the beam's hypotheses
    weighed by sense, as many or more are heard exactly, and none that was heard is lost.
    A partial is not weighed."""
    settings = load_settings(profile="testing", data_dir=tmp_path)
    plain = WhisperStt(settings.stt, models_dir=models_dir)
    choosing = WhisperStt(
        settings.stt.model_copy(update={"hypotheses": 4}), models_dir=models_dir, scorer=scorer
    )
    voice = backends.tts_for("flite-slt")
    questions = [
        "What is the largest mammal?",
        "What is the closest star to the earth?",
        "What is the boiling point of water in Celsius?",
        "Which metal is liquid at room temperature?",
        "How many hours are in a day?",
        "What is the capital of France?",
    ]
    heard_plainly, heard_choosing = [], []
    for question in questions:
        chunks = [chunk async for chunk in voice.synthesize(question)]
        audio = resample(np.concatenate(chunks), voice.sample_rate_hz, INPUT_SAMPLE_RATE_HZ)
        silence = np.zeros(INPUT_SAMPLE_RATE_HZ * 3 // 10, np.int16)
        clip = np.concatenate([silence, audio, silence[: INPUT_SAMPLE_RATE_HZ // 10]])
        heard_plainly.append((await plain.transcribe(clip)).text)
        heard_choosing.append((await choosing.transcribe(clip)).text)
        # A partial's hypotheses are not weighed: Whisper's first, marked as rough.
        partial = await choosing.transcribe(clip, is_partial=True)
        assert partial.is_rough and partial.text == heard_plainly[-1]
        assert not (await plain.transcribe(clip, is_partial=True)).is_rough
    right_plainly = {
        q for q, h in zip(questions, heard_plainly, strict=True) if plain_words(h) == plain_words(q)
    }
    right_choosing = {
        q
        for q, h in zip(questions, heard_choosing, strict=True)
        if plain_words(h) == plain_words(q)
    }
    # On this voice tiny.en's first hypothesis got 1 of the 6 right on a Xeon, the chosen 6.
    assert right_plainly <= right_choosing, (heard_plainly, heard_choosing)
    assert len(right_choosing) > len(right_plainly) or len(right_plainly) == len(questions)
    assert len(right_choosing) >= len(questions) - 2, heard_choosing


async def test_the_scorer_on_the_reply_model_s_thread_scores_alike_and_leaves_it_answering(
    backends: Backends, scorer: LlamaSentenceScorer, models_dir: Path
) -> None:
    """llama.cpp is called from one thread (see llama_cpp_llm): beside the reply model, the
    scorer runs on that model's thread, and a reply after it is as right as before."""
    llm = backends.llm
    assert isinstance(llm, LlamaCppLlm)
    beside = LlamaSentenceScorer(
        wheel_member_path(models_dir, SENTENCE_SCORER),
        threads=2,
        spare_cores=llm.spare_cores,
        run=llm.run_beside,
    )
    try:
        texts = [
            "What is the closest star to the earth?",
            "What is the closest start to the earth?",
        ]
        assert beside.log_probabilities(texts) == pytest.approx(
            scorer.log_probabilities(texts), rel=0.01
        )
        messages = [
            ChatMessage("system", backends.settings.llm.system_prompt),
            ChatMessage("user", "What is the capital of France?"),
        ]
        reply = "".join([delta async for delta in llm.stream(messages)])
        assert "paris" in reply.lower()
    finally:
        beside.close()


def test_without_the_scorer_s_file_whisper_s_first_hypothesis_is_taken_and_it_says_so(
    models_dir: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    from parley.models.factory import make_stt

    (tmp_path / "whisper-tiny.en").symlink_to(models_dir / "whisper-tiny.en")
    settings = load_settings(profile="testing", data_dir=tmp_path)
    stt = make_stt(settings.stt.model_copy(update={"hypotheses": 4}), models_dir=tmp_path)
    assert isinstance(stt, WhisperStt) and stt.is_weighing_hypotheses is False
    assert "Whisper's first hypothesis is taken" in caplog.text
    assert "parley models install" in caplog.text


@pytest.fixture
def busy_core() -> Iterator[None]:
    """Another process keeping a core busy, as a build or a video call would; ended however
    the test ends."""
    hog = subprocess.Popen([sys.executable, "-c", "while True: pass"])
    try:
        yield
    finally:
        hog.kill()
        hog.wait()


def test_beside_a_process_keeping_a_core_busy_the_scorer_reads_on_one_thread_as_right(
    models_dir: Path, busy_core: None, caplog: pytest.LogCaptureFixture
) -> None:
    """Two llama.cpp threads with one core free wait for each other at every step (SmolLM2:
    314 ms a token against 21 on one thread): the call takes the cores that are spare."""
    spare = SpareCores()
    if spare.cores != 2:
        pytest.skip("measured on 2 cores, the machine Parley is sized for")
    with caplog.at_level(logging.INFO, logger="parley.models.spare_cores"):
        deadline = time.monotonic() + 30
        while spare.threads_for(2) != 1:  # until a window with the busy process is measured
            assert time.monotonic() < deadline, "the busy process was never measured"
            time.sleep(0.1)
    assert "llama.cpp now on 1 thread(s)" in caplog.text
    with concurrent.futures.ThreadPoolExecutor(1) as thread:
        scorer = LlamaSentenceScorer(
            wheel_member_path(models_dir, SENTENCE_SCORER),
            threads=2,
            spare_cores=spare,
            run=lambda call: thread.submit(call).result(),
        )
        try:
            said, misheard = scorer.log_probabilities(
                ["What is the largest mammal?", "What is the largest manual?"]
            )
            threads_used = thread.submit(llama_cpp.llama_n_threads, scorer._llama.ctx).result()
        finally:
            scorer.close()
    assert threads_used == 1
    assert said > misheard
