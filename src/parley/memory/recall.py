"""Semantic memory: facts about the user, stored with embeddings and recalled for each turn.

Recall is hybrid: vector similarity (sqlite-vec's cosine distance, or numpy where the SQLite
build cannot load it) plus an FTS5 keyword match, with a little weight for recency, so that
"what's my favourite colour" finds "the user's favourite colour is teal" by meaning and
"teal" finds it by word. The embedder is optional: without it, memory still works by keyword.
"""

from __future__ import annotations

import logging
import math
import re
import time
from dataclasses import dataclass, field

import numpy as np

from parley.memory.fact_voice import second_person
from parley.memory.facts import Forget, Remember, third_person, understand
from parley.memory.store import ConversationStore, MemoryItem
from parley.models.embedding import MiniLmEmbedder

log = logging.getLogger(__name__)

_VECTOR_WEIGHT = 0.65
_KEYWORD_WEIGHT = 0.25
_RECENCY_WEIGHT = 0.10
_RECENCY_HALF_LIFE_DAYS = 30.0
_DUPLICATE_SIMILARITY = 0.95
# How alike (MiniLM cosine) a fact and a turn must be for the fact to enter the prompt. A turn
# about the user or asking for advice takes facts that bear on it only loosely ("what should I
# cook tonight?" 0.21 to "the user is vegetarian"); a general question takes only a fact that
# is nearly its subject, for a small model answers "what is the capital of France?" with
# whatever fact it was given ("the user lives in Lyon" is 0.23 to it, "the user has a dog"
# 0.23 to "how many legs does a spider have?"). Shared words only rank: "favourite" is in
# many facts and many turns.
_PERSONAL_SIMILARITY = 0.12
_GENERAL_SIMILARITY = 0.35
_RECALL_LIMIT = 8
# A question put to memory is compared as a question about "the user", as the facts are kept:
# "where do I live?" is 0.29 to "the user lives in Lisbon", "where does the user live" 0.61.
# A fact this close in meaning answers it, and so do those nearly as close as the best. Facts
# that answer the eval's memory questions, asked as people ask them, came at 0.47-0.87; a
# misheard sum given to memory ("what is 5 times the user") at 0.31 to the nearest fact.
_ANSWER_SIMILARITY = 0.45
_ANSWER_SHARE_OF_BEST = 0.6
# ... unless it asks what Parley knows of the user at all: every fact is the answer then. It
# does when it names nothing once its words of asking are left out: "what do you remember about
# me" does, "do you remember my sister's name" does not.
_ASKING_FOR_EVERYTHING = frozenset(
    ["remember", "remembered", "know", "knows", "told", "tell", "everything", "anything", "all"]
)
_ASKING_WORDS = frozenset(
    [
        "a",
        "about",
        "all",
        "anything",
        "are",
        "can",
        "could",
        "did",
        "do",
        "does",
        "else",
        "ever",
        "everything",
        "have",
        "i",
        "is",
        "it",
        "know",
        "knows",
        "me",
        "my",
        "myself",
        "remember",
        "remembered",
        "say",
        "said",
        "so",
        "far",
        "tell",
        "told",
        "what",
        "whatever",
        "you",
        "yourself",
    ]
)
_PERSONAL_CUES = re.compile(
    r"\b(i|i'm|i've|i'd|me|my|mine|myself|we|our|us|"
    r"suggest|recommend|recommendation|ideas?|advice|should|remind)\b"
)
_STOPWORDS = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "do",
        "does",
        "for",
        "i",
        "is",
        "it",
        "me",
        "my",
        "of",
        "on",
        "or",
        "the",
        "to",
        "was",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "you",
        "your",
        "how",
        "can",
        "could",
        "would",
        "should",
        "please",
        "tell",
        "about",
        "user",
        "user's",
    ]
)


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:]


@dataclass(slots=True)
class MemoryChanges:
    created_ids: set[int] = field(default_factory=set)
    # What Parley says itself for an explicit "remember" or "forget": reliable, and no LLM wait.
    confirmations: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class Recalled:
    item: MemoryItem
    score: float  # for ranking: meaning, words and recency together
    similarity: float | None = None  # by meaning alone (None: the fact has no vector)
    is_keyword_match: bool = False


def is_about_the_user(text: str) -> bool:
    """Whether a turn speaks of the user or asks for advice, rather than a general question."""
    return _PERSONAL_CUES.search(text.lower()) is not None


def asks_for_everything(question: str) -> bool:
    """Whether a question put to memory asks for all it holds ("what have you remembered
    about me?") rather than for one thing ("do you remember my sister's name?")."""
    words = set(re.findall(r"[a-z0-9']+", question.lower()))
    return words <= _ASKING_WORDS and not words.isdisjoint(_ASKING_FOR_EVERYTHING)


class MemoryRecall:
    def __init__(self, store: ConversationStore, embedder: MiniLmEmbedder | None) -> None:
        self._store = store
        self._embedder = embedder

    @property
    def has_embeddings(self) -> bool:
        return self._embedder is not None

    def _embed(self, text: str) -> np.ndarray | None:
        if self._embedder is None:
            return None
        try:
            return self._embedder.embed(text)
        except Exception:  # the assistant keeps working without semantic recall
            log.exception("embedding failed; recall falls back to keywords")
            return None

    def remember(self, user_id: str, text: str, *, source: str = "manual") -> int | None:
        """Store a fact; a near-duplicate of one already kept is not stored twice."""
        vector = self._embed(text)
        if vector is not None:
            # By meaning alone: every fact shares words ("the user") and is recent.
            nearest = self._vector_similarities(user_id, vector, limit=1)
            if nearest and max(nearest.values()) >= _DUPLICATE_SIMILARITY:
                return None
        return self._store.add_memory(
            user_id,
            text,
            source,
            vector.astype(np.float32).tobytes() if vector is not None else None,
        )

    def forget(self, user_id: str, topic: str) -> MemoryItem | None:
        """Delete the best match for ``topic``, or the newest memory when the topic is empty."""
        if topic:
            found = self.search(user_id, topic, limit=1)
            target = found[0].item if found else None
        else:
            latest = self._store.memories(user_id, limit=1)
            target = latest[0] if latest else None
        if target is not None:
            self._store.delete_memory(user_id, target.id)
        return target

    def observe_user_turn(
        self, user_id: str, user_text: str, *, is_extracting: bool = False
    ) -> MemoryChanges:
        """Apply what the user's words ask for, and say what changed."""
        changes = MemoryChanges()
        for action in understand(user_text, is_extracting=is_extracting):
            match action:
                case Remember(text=text, source=source):
                    item_id = self.remember(user_id, text, source=source)
                    if item_id is not None:
                        changes.created_ids.add(item_id)
                    if source == "explicit":
                        said = _lower_first(second_person(text))
                        changes.confirmations.append(f"Okay, I'll remember that {said}.")
                case Forget(topic=topic):
                    if (forgotten := self.forget(user_id, topic)) is not None:
                        said = _lower_first(second_person(forgotten.text))
                        changes.confirmations.append(f"Okay, I've forgotten that {said}.")
                    else:
                        changes.confirmations.append("I had nothing like that to forget.")
        return changes

    def search(
        self, user_id: str, query: str, *, limit: int = 5, query_vector: np.ndarray | None = None
    ) -> list[Recalled]:
        vector = query_vector if query_vector is not None else self._embed(query)
        similarity: dict[int, float] = {}
        if vector is not None:
            similarity = self._vector_similarities(user_id, vector, limit=limit * 4)
        words = [w for w in re.findall(r"[a-z0-9']+", query.lower()) if w not in _STOPWORDS]
        keyword_ids = self._store.keyword_memories(user_id, words, limit=limit * 4)
        keyword_score = {
            item_id: 1.0 - rank / max(1, len(keyword_ids))
            for rank, item_id in enumerate(keyword_ids)
        }
        candidates = set(similarity) | set(keyword_score)
        if vector is None and not candidates:
            candidates = {item.id for item in self._store.memories(user_id, limit=limit)}
        now = time.time()
        ranked = []
        for item in self._store.memories_by_id(user_id, list(candidates)):
            age_days = max(0.0, (now - item.created_at) / 86_400)
            score = (
                _VECTOR_WEIGHT * similarity.get(item.id, 0.0)
                + _KEYWORD_WEIGHT * keyword_score.get(item.id, 0.0)
                + _RECENCY_WEIGHT * math.exp(-age_days * math.log(2) / _RECENCY_HALF_LIFE_DAYS)
            )
            ranked.append(
                Recalled(
                    item,
                    round(score, 4),
                    similarity.get(item.id),
                    is_keyword_match=item.id in keyword_score,
                )
            )
        ranked.sort(key=lambda r: r.score, reverse=True)
        return ranked[:limit]

    def _vector_similarities(
        self, user_id: str, vector: np.ndarray, *, limit: int
    ) -> dict[int, float]:
        query = vector.astype(np.float32).tobytes()
        if self._store.has_vector_search:
            rows = self._store.nearest_memories(user_id, query, limit=limit)
            return {item_id: 1.0 - float(distance) for item_id, distance in rows}
        stored = self._store.memory_vectors(user_id)
        if not stored:
            return {}
        matrix = np.stack([np.frombuffer(blob, dtype=np.float32) for _, blob in stored])
        scores = matrix @ vector.astype(np.float32)
        best = np.argsort(-scores)[:limit]
        return {stored[int(i)][0]: float(scores[int(i)]) for i in best}

    def answering(self, user_id: str, question: str, *, limit: int = 5) -> list[str]:
        """The facts that answer a question put to memory (the search_memory tool), most
        relevant first; none when they do not answer it."""
        found = self.search(user_id, third_person(question), limit=limit)
        if asks_for_everything(question):
            return [recalled.item.text for recalled in found]
        best = max((r.similarity for r in found if r.similarity is not None), default=0.0)
        bar = max(_ANSWER_SIMILARITY, _ANSWER_SHARE_OF_BEST * best)
        return [
            recalled.item.text
            for recalled in found
            if (recalled.similarity or 0.0) >= bar
            or (recalled.similarity is None and recalled.is_keyword_match)
        ]

    def recall_for_prompt(
        self, user_id: str, query: str, *, budget_chars: int, exclude: frozenset[int] = frozenset()
    ) -> list[str]:
        """The facts that bear on this turn, most relevant first, within a budget; none for a
        turn they have nothing to do with (a small model would answer with them anyway)."""
        is_personal = is_about_the_user(query)
        bar = _PERSONAL_SIMILARITY if is_personal else _GENERAL_SIMILARITY
        chosen: list[str] = []
        used = 0
        for recalled in self.search(user_id, query, limit=_RECALL_LIMIT):
            # A fact with no vector (stored while the embedder was missing), or no embedder:
            # words decide, a shared word or a turn about the user.
            is_relevant = (
                recalled.similarity >= bar
                if recalled.similarity is not None
                else recalled.is_keyword_match or (is_personal and not self.has_embeddings)
            )
            if recalled.item.id in exclude or not is_relevant:
                continue
            if used + len(recalled.item.text) > budget_chars:
                continue  # too long for what is left; a shorter, less relevant one may fit
            chosen.append(recalled.item.text)
            used += len(recalled.item.text)
        return chosen
