"""The bench's spoken prompts: requests of every kind people make (questions of fact,
arithmetic, advice, jokes, explanations, memory, the time, a barge-in command) spoken once in
several voices (so STT is not only ever measured on one speaker), or a folder of WAV files
with their words."""

from __future__ import annotations

import asyncio
import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from parley.audio.frames import INPUT_SAMPLE_RATE_HZ, Int16Array
from parley.audio.pcm import decode_file, resample, write_wav
from parley.config.settings import Settings
from parley.errors import AudioDecodeError
from parley.models.contracts import TextToSpeech

# A reply that tells the time holds one of these (Parley says "It's 3:42 in the afternoon").
CLOCK_WORDS = (
    *(str(n) for n in range(60)),
    *(f"{n:02d}" for n in range(10)),
    "am",
    "pm",
    "o'clock",
    "noon",
    "midnight",
    "utc",
    "morning",
    "afternoon",
    "evening",
)

# Short questions of fact, each with words of which a reply that addresses it holds at least
# one: the wake-word trial's other speech, and the synthetic voices' transcript check.
SHORT_QUESTIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("What is the capital of France?", ("paris",)),
    ("How many days are there in a week?", ("seven", "7")),
    ("What colour is the sky on a clear day?", ("blue",)),
    ("Can you name a fruit that is yellow?", ("banana", "bananas", "lemon", "lemons", "mango")),
    ("What is two plus three?", ("five", "5")),
    ("Who wrote Romeo and Juliet?", ("shakespeare",)),
    ("What is the opposite of hot?", ("cold",)),
    ("How many legs does a spider have?", ("eight", "8")),
    ("What do bees make?", ("honey",)),
    ("What is the largest planet in our solar system?", ("jupiter",)),
)


@dataclass(frozen=True, slots=True)
class BenchRequest:
    kind: str
    text: str
    expected: tuple[str, ...] = ()  # a reply that addresses it holds one; none: not judged


# What the bench times: requests of every kind, not only short questions of fact, whose
# replies start sooner and flatter the chain. Long replies (an explanation, a joke) and the
# tools (the time, memory) are timed as people meet them.
DEFAULT_PROMPTS: tuple[BenchRequest, ...] = (
    BenchRequest("fact", "What is the capital of France?", ("paris",)),
    BenchRequest("advice", "How can I fall asleep faster?"),
    BenchRequest("arithmetic", "What is two plus three?", ("five", "5")),
    BenchRequest("joke", "Tell me a joke."),
    BenchRequest(
        "explanation",
        "Why is the sky blue?",
        ("light", "sunlight", "scatter", "scattering", "scattered", "wavelength", "wavelengths"),
    ),
    BenchRequest("time", "What time is it?", CLOCK_WORDS),
    BenchRequest("fact", "Who wrote Romeo and Juliet?", ("shakespeare",)),
    BenchRequest("command", "Stop. Actually, tell me about the moon.", ("moon",)),
    BenchRequest("memory", "Please remember that my sister's name is Emma.", ("emma",)),
    BenchRequest("memory", "What is my sister's name?", ("emma",)),
    BenchRequest("advice", "What should I cook for dinner tonight?"),
    BenchRequest("fact", "How many legs does a spider have?", ("eight", "8")),
    BenchRequest(
        "explanation",
        "How does a rainbow form?",
        ("light", "rain", "raindrops", "droplets", "water", "sunlight"),
    ),
    BenchRequest("arithmetic", "What is seven times six?", ("42", "forty")),
    BenchRequest("chat", "Hello, how are you today?"),
    BenchRequest("fact", "What is the largest planet in our solar system?", ("jupiter",)),
)
# Spoken in order, each in a new conversation: a fact, a question it answers, and a question
# it must stay out of (the time tool answers that one).
MEMORY_TRIAL: tuple[tuple[str, tuple[str, ...], tuple[str, ...]], ...] = (
    ("Please remember that my name is Alice and my favourite colour is teal.", ("teal",), ()),
    ("What is my favourite colour?", ("teal",), ()),
    ("What time is it right now?", CLOCK_WORDS, ("alice", "teal")),
)
# Questions spoken with a pause after their first part.
PAUSE_TRIAL: tuple[tuple[str, str], ...] = (
    ("What is the capital", "of Spain?"),
    ("How many wheels", "does a bicycle have?"),
    ("My favourite animal is", "the cat. What is yours?"),
    ("Can you tell me the name of", "a long river?"),
)
# Each shorter than the silence that ends an unfinished-sounding turn (vad.end_silence_ms) or
# as long, and longer than the one after which a finished-sounding turn ends.
PAUSE_TRIAL_GAPS_MS = (250, 350, 500)
# Half the prompts in the embedded Piper voice, half in espeak-ng voices, so that STT is not
# only ever measured on one speaker.
ESPEAK_VOICES = ("en-us", "en-gb", "en-us+f3", "en-gb-x-rp", "en-us+m3")
_LEAD = np.zeros(8_000, dtype=np.int16)  # half a second before the user speaks


@dataclass(frozen=True, slots=True)
class Prompt:
    text: str
    path: Path
    kind: str = ""  # fact, advice, joke, ... (empty: a prompt of the user's own)
    # Words of which a reply that addresses the prompt holds at least one, and words it must
    # not hold (facts about the user offered to an unrelated question). Neither: not judged.
    expected: tuple[str, ...] = ()
    unexpected: tuple[str, ...] = ()
    pause_ms: int | None = None  # the pause trial's: the silence put in mid-question

    def is_addressed_by(self, reply: str) -> bool | None:
        if not self.expected and not self.unexpected:
            return None
        # "1,000" is one number, as "1000" is.
        words = set(re.findall(r"[a-z0-9']+", re.sub(r"(?<=\d),(?=\d{3})", "", reply.lower())))
        return (not self.expected or not words.isdisjoint(_with_endings(self.expected))) and (
            words.isdisjoint(_with_endings(self.unexpected))
        )


def _with_endings(words: tuple[str, ...]) -> set[str]:
    """Each word as said in a sentence: "app" is in "use apps", "practise" in "practising"."""
    forms = set(words)
    for word in words:
        if word.isalpha():
            stem = word.removesuffix("e")
            forms |= {word + "s", word + "es", stem + "ing", stem + "ed"}
    return forms


def _cached(path: Path, text: str) -> bool:
    """Whether ``path`` already holds ``text`` spoken (its .txt says which words it holds)."""
    words = path.with_suffix(".txt")
    return path.exists() and words.exists() and words.read_text(encoding="utf-8").strip() == text


def _save(path: Path, audio: Int16Array, text: str) -> None:
    write_wav(path, np.concatenate([_LEAD, audio]), INPUT_SAMPLE_RATE_HZ)
    path.with_suffix(".txt").write_text(text + "\n", encoding="utf-8")


def make_default_prompts(directory: Path, tts: TextToSpeech) -> list[Prompt]:
    """Speak the default requests once (Piper and espeak-ng voices) into ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    prompts: list[Prompt] = []
    for index, request in enumerate(DEFAULT_PROMPTS):
        path = directory / f"{index:02d}.wav"
        if not _cached(path, request.text):
            if index % 2 == 0:
                audio = asyncio.run(_say(tts, request.text))
            else:
                voice = ESPEAK_VOICES[(index // 2) % len(ESPEAK_VOICES)]
                audio = espeak_say(request.text, voice)
            _save(path, audio, request.text)
        prompts.append(Prompt(request.text, path, request.kind, request.expected))
    return prompts


# The interruption trial speaks over the reply to this: a reply of several sentences, so that
# the words spoken over it always find it still playing, however slow the machine.
LONG_REPLY_REQUEST = "Tell me about the moon."


def make_long_reply_prompt(directory: Path, tts: TextToSpeech) -> Prompt:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / "long-reply.wav"
    if not _cached(path, LONG_REPLY_REQUEST):
        _save(path, asyncio.run(_say(tts, LONG_REPLY_REQUEST)), LONG_REPLY_REQUEST)
    return Prompt(LONG_REPLY_REQUEST, path, "explanation", ("moon",))


def make_memory_trial(directory: Path, tts: TextToSpeech) -> list[Prompt]:
    directory.mkdir(parents=True, exist_ok=True)
    prompts = []
    for index, (text, expected, unexpected) in enumerate(MEMORY_TRIAL):
        path = directory / f"memory-{index:02d}.wav"
        if not _cached(path, text):
            _save(path, asyncio.run(_say(tts, text)), text)
        prompts.append(Prompt(text, path, "memory", expected, unexpected))
    return prompts


def make_pause_trial(
    directory: Path, tts: TextToSpeech, *, questions: int = len(PAUSE_TRIAL)
) -> list[Prompt]:
    """Each question spoken in one breath, with a silence of each of PAUSE_TRIAL_GAPS_MS put in
    where its first part ends. Spoken whole, the voice does not fall before the pause as it
    does at a sentence's end, just as a person's does not when they hesitate mid-sentence (the
    halves spoken apart sound like two finished sentences, and no turn model could tell)."""
    directory.mkdir(parents=True, exist_ok=True)
    prompts: list[Prompt] = []
    for index, (first, second) in enumerate(PAUSE_TRIAL[:questions]):
        text = f"{first} {second}"
        paths = {gap: directory / f"pause-{gap}ms-{index:02d}.wav" for gap in PAUSE_TRIAL_GAPS_MS}
        if not all(_cached(path, text) for path in paths.values()):
            whole, first_alone, second_alone = (
                _trimmed(asyncio.run(_say(tts, words))) for words in (text, first, second)
            )
            share = first_alone.size / (first_alone.size + second_alone.size)
            at = quietest_point(whole, near_sample=int(whole.size * share))
            for gap, path in paths.items():
                silence = np.zeros(INPUT_SAMPLE_RATE_HZ * gap // 1000, dtype=np.int16)
                _save(path, np.concatenate([whole[:at], silence, whole[at:]]), text)
        prompts.extend(
            Prompt(text, paths[gap], "fact", pause_ms=gap) for gap in PAUSE_TRIAL_GAPS_MS
        )
    return prompts


def quietest_point(audio: Int16Array, *, near_sample: int, within_ms: int = 120) -> int:
    """The middle of the quietest 20 ms of ``audio`` within ``within_ms`` of ``near_sample``:
    the gap between two words, where a pause can go without cutting a sound."""
    window = INPUT_SAMPLE_RATE_HZ // 50
    loudness = np.convolve(np.abs(audio.astype(np.float32)), np.ones(window), mode="same")
    reach = INPUT_SAMPLE_RATE_HZ * within_ms // 1000
    low, high = max(0, near_sample - reach), min(audio.size, near_sample + reach)
    return low + int(np.argmin(loudness[low:high])) if high > low else near_sample


@dataclass(frozen=True, slots=True)
class EchoTrialAudio:
    question: Int16Array  # asks for a reply of a few sentences
    new_question: Int16Array  # spoken over that reply: it must stop
    acknowledgement: Int16Array  # "uh-huh" and a cough over that reply: it must play on


def cough(seed: int = 5) -> Int16Array:
    """0.3 s of noise that dies away, as loud as speech: a cough, to the VAD."""
    fade = np.exp(-np.linspace(0, 6, 4_800))
    return (np.random.default_rng(seed).normal(0, 1, 4_800) * fade * 9_000).astype(np.int16)


def knock(seed: int = 5) -> Int16Array:
    """Three sharp 50 ms bursts, 0.25 s apart: a knock on a door."""
    rng = np.random.default_rng(seed)
    fade = np.exp(-np.linspace(0, 6, 800))
    sound = np.zeros(12_000, dtype=np.int16)
    for start in (0, 4_000, 8_000):
        sound[start : start + 800] = (rng.normal(0, 1, 800) * fade * 15_000).astype(np.int16)
    return sound


def make_echo_trial(tts: TextToSpeech) -> EchoTrialAudio:
    uh_huh = _trimmed(espeak_say("Uh-huh.", "en-us"))
    half_a_second = np.zeros(INPUT_SAMPLE_RATE_HZ // 2, dtype=np.int16)
    return EchoTrialAudio(
        question=asyncio.run(_say(tts, "Tell me about the moon.")),
        new_question=_trimmed(asyncio.run(_say(tts, "What is the capital of France?"))),
        acknowledgement=np.concatenate([uh_huh, half_a_second, cough()]),
    )


def _trimmed(audio: Int16Array, level: int = 300) -> Int16Array:
    loud = np.flatnonzero(np.abs(audio) > level)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio


async def _say(tts: TextToSpeech, text: str) -> Int16Array:
    chunks = [chunk async for chunk in tts.synthesize(text)]
    return resample(np.concatenate(chunks), tts.sample_rate_hz, INPUT_SAMPLE_RATE_HZ)


def espeak_say(text: str, voice: str) -> Int16Array:
    with tempfile.TemporaryDirectory() as scratch:
        raw = Path(scratch) / "raw.wav"
        subprocess.run(["espeak-ng", "-v", voice, "-s", "165", "-w", str(raw), text], check=True)
        return decode_file(raw)


def load_prompts(directory: Path) -> list[Prompt]:
    """WAV files, each with a .txt of what it says (for the word error rate)."""
    prompts = []
    for path in sorted(directory.glob("*.wav")):
        text_path = path.with_suffix(".txt")
        text = text_path.read_text(encoding="utf-8").strip() if text_path.exists() else ""
        prompts.append(Prompt(text, path))
    return prompts


def choose_prompts(settings: Settings, audio_dir: Path | None, tts: TextToSpeech) -> list[Prompt]:
    if audio_dir is None:
        return make_default_prompts(settings.data_dir / "bench-prompts", tts)
    prompts = load_prompts(audio_dir)
    if not prompts:
        raise AudioDecodeError(
            f"No .wav prompts in {audio_dir}: give WAV files with a .txt of each."
        )
    return prompts
