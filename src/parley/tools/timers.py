"""Timers, alarms and reminders: set, read and cancelled through Parley's built-in tools from
the user's own words, kept in the store (they survive a restart), and told when due by whoever
is listening: each transport subscribes a ``Teller`` for the user it serves.

One task (``run``) sleeps until the next timer is due. When it goes off it is marked fired and
every teller of its user is asked to say it; the first that says it was told marks it told. A
timer that goes off with no teller, or none that could say it, is told by the next teller to
subscribe (the next connection, the next `parley listen`).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import logging
import time
from collections.abc import Awaitable, Callable

from parley.memory.store import LOCAL_USER, ConversationStore
from parley.memory.timer_table import StoredTimer
from parley.tools.timer_words import (
    announcement,
    capitalized,
    errand,
    length_words,
    means_every_one,
    timer_name,
    timer_named,
    timer_title,
    when_words,
)
from parley.tools.when import WhenError, check_ahead, due_time, duration_in

log = logging.getLogger(__name__)

# Says a due timer's words to the user; True when they were said (and so the timer is told).
Teller = Callable[[StoredTimer, str], Awaitable[bool]]
MAX_TIMER = datetime.timedelta(days=1)


class TimerClock:
    def __init__(self, store: ConversationStore, *, clock: Callable[[], float] = time.time) -> None:
        self._store = store
        self._clock = clock
        self._tellers: dict[str, list[Teller]] = {}
        self._changed = asyncio.Event()
        self._loop: asyncio.AbstractEventLoop | None = None

    def now(self) -> datetime.datetime:
        """Now in the user's time zone (this machine's)."""
        return datetime.datetime.fromtimestamp(self._clock()).astimezone()

    # ---- what the tools do (each returns the sentence to say) -------------------------------

    def set_timer(self, request: str, *, user_id: str = LOCAL_USER) -> str:
        try:
            length = duration_in(request)
        except WhenError as error:
            return str(error)
        if length is None:
            return "How long should the timer run? Say, for example, ten minutes."
        if length > MAX_TIMER:
            return "A timer runs for up to a day; for anything later, ask me for a reminder."
        name = timer_name(request)
        timer = self._store.add_timer(
            user_id, "timer", name, self._clock() + length.total_seconds(), length.total_seconds()
        )
        self._wake()
        length_said = length_words(length.total_seconds())
        if timer.label:
            return f"OK, {timer_title(timer)} is set for {length_said}."
        return f"OK, a timer is set for {length_said}."

    def set_reminder(self, request: str, *, user_id: str = LOCAL_USER) -> str:
        now = self.now()
        try:
            due = due_time(request, now)
            if due is None:
                return "When should I remind you? Say, for example, at six thirty, or in an hour."
            check_ahead(due, now)
        except WhenError as error:
            return str(error)
        what = errand(request)
        self._store.add_timer(user_id, "reminder", what, due.timestamp(), None)
        self._wake()
        if not what:
            return f"OK, your alarm is set for {when_words(due, now).removeprefix('at ')}."
        return f"OK, I'll remind you {when_words(due, now)} {what}."

    def time_left(self, request: str, *, user_id: str = LOCAL_USER) -> str:
        running = self._store.running_timers(user_id)
        if not running:
            return "You have no timers or reminders running."
        now = self._clock()
        sentences = []
        chosen = timer_named(running, request)
        if not chosen:
            sentences.append(f"You have no {timer_name(request)} timer running.")
            chosen = running
        for timer in chosen:
            left = length_words(max(0.0, timer.due_at - now))
            title = capitalized(timer_title(timer))
            if timer.kind == "timer":
                sentences.append(f"{title} has {left} left.")
            else:
                due = datetime.datetime.fromtimestamp(timer.due_at).astimezone()
                sentences.append(f"{title} is {when_words(due, self.now())}.")
        return " ".join(sentences)

    def cancel(self, request: str, *, user_id: str = LOCAL_USER) -> str:
        running = self._store.running_timers(user_id)
        if not running:
            return "There is nothing to cancel: no timers or reminders are running."
        chosen = timer_named(running, request)
        if not chosen:
            kept = " and ".join(timer_title(t) for t in running)
            return (
                f"You have no {timer_name(request)} timer running, so I've cancelled nothing; "
                f"{kept} {'is' if len(running) == 1 else 'are'} still on."
            )
        if len(chosen) > 1 and not means_every_one(request):
            return f"Which one? You have {self._told_apart(chosen)}."
        for timer in chosen:
            self._store.delete_timer(user_id, timer.id)
        self._wake()
        titles = " and ".join(timer_title(t) for t in chosen)
        return f"OK, I've cancelled {titles}."

    def _told_apart(self, timers: list[StoredTimer]) -> str:
        """ "your pasta timer and your alarm"; timers of one title told apart by their time left
        ("your pasta timer with 4 minutes left and your pasta timer with 1 hour left")."""
        titles = [timer_title(t) for t in timers]
        now = self._clock()
        return " and ".join(
            f"{title} with {length_words(max(0.0, timer.due_at - now))} left"
            if titles.count(title) > 1 and timer.kind == "timer"
            else title
            for title, timer in zip(titles, timers, strict=True)
        )

    # ---- telling the user -------------------------------------------------------------------

    async def subscribe(self, user_id: str, teller: Teller) -> Callable[[], None]:
        """Have ``teller`` say the user's timers when due; first, those that went off with
        nobody told. Returns the call that unsubscribes."""
        self._tellers.setdefault(user_id, []).append(teller)
        for timer in await asyncio.to_thread(self._store.untold_timers, user_id):
            await self._tell(timer, [teller])

        def unsubscribe() -> None:
            with contextlib.suppress(ValueError):
                self._tellers.get(user_id, []).remove(teller)

        return unsubscribe

    async def run(self) -> None:
        """Go off on time until cancelled."""
        self._loop = asyncio.get_running_loop()
        while True:
            self._changed.clear()
            timer = await asyncio.to_thread(self._store.next_due_timer)
            wait_s = None if timer is None else max(0.0, timer.due_at - self._clock())
            if wait_s is None or wait_s > 0:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._changed.wait(), timeout=wait_s)
                continue
            assert timer is not None
            await asyncio.to_thread(self._store.mark_timer_fired, timer.id, self._clock())
            log.info("%s is due", timer_title(timer))
            # The user's newest session first: an older one may be a call whose browser has
            # gone without a word (its ICE consent takes ~30 s to fail).
            tellers = list(reversed(self._tellers.get(timer.user_id, [])))
            if tellers:
                # Told beside the clock, which goes on to the next timer meanwhile.
                task = asyncio.create_task(self._tell(timer, tellers))
                task.add_done_callback(_log_failure)

    async def _tell(self, timer: StoredTimer, tellers: list[Teller]) -> None:
        words = announcement(timer, self.now())
        for teller in tellers:
            try:
                if await teller(timer, words):
                    await asyncio.to_thread(self._store.mark_timer_told, timer.id, self._clock())
                    return
            except Exception:
                log.exception("telling %s failed", timer_title(timer))

    def _wake(self) -> None:
        """A timer was added or removed: the clock looks again (the tools may run in another
        thread)."""
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        loop.call_soon_threadsafe(self._changed.set)


def _log_failure(task: asyncio.Task[None]) -> None:
    if not task.cancelled() and task.exception() is not None:
        log.error("telling a timer failed", exc_info=task.exception())
