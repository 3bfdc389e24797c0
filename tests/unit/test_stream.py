import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator

import pytest

from parley.models.thread_bridge import iterate_in_thread
from parley.pipeline.channel import Channel
from parley.tools.tool_reply import PlainReply


async def test_a_full_blocking_channel_waits_for_the_consumer() -> None:
    channel = Channel[int](maxsize=2)
    await channel.send(1)
    await channel.send(2)
    blocked = asyncio.create_task(channel.send(3))
    await asyncio.sleep(0.01)
    assert not blocked.done()
    assert await channel.receive() == 1
    await blocked
    channel.close()
    assert [item async for item in channel] == [2, 3]


async def test_drop_oldest_keeps_the_newest_items_and_counts_the_loss() -> None:
    channel = Channel[int](maxsize=3, overflow="drop_oldest")
    for item in range(5):
        await channel.send(item)
    channel.close()
    assert [item async for item in channel] == [2, 3, 4]
    assert channel.dropped_count == 2


async def test_a_consumer_stops_when_the_channel_is_closed_and_drained() -> None:
    channel = Channel[str](maxsize=4)

    async def produce() -> None:
        for word in ["a", "b", "c"]:
            await channel.send(word)
            await asyncio.sleep(0)
        channel.close()

    producer = asyncio.create_task(produce())
    assert [word async for word in channel] == ["a", "b", "c"]
    await producer


async def test_send_on_a_closed_channel_fails() -> None:
    channel = Channel[int](maxsize=1)
    channel.close()
    with pytest.raises(Exception, match="closed"):
        await channel.send(1)


async def test_cancelling_the_consumer_stops_a_blocking_generator_within_one_item() -> None:
    produced: list[int] = []
    closed = threading.Event()

    def slow_tokens() -> Iterator[int]:
        try:
            for index in range(1000):
                time.sleep(0.02)
                produced.append(index)
                yield index
        finally:
            closed.set()

    received: list[int] = []

    async def consume() -> None:
        async for item in iterate_in_thread(slow_tokens()):
            received.append(item)

    task = asyncio.create_task(consume())
    await asyncio.sleep(0.2)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    count_at_cancel = len(produced)
    await asyncio.sleep(0.2)
    assert closed.is_set(), "the generator's finally did not run"
    assert len(produced) <= count_at_cancel + 1, "the generator kept running after cancellation"
    assert received == produced[: len(received)]


async def test_taken_waits_until_the_consumer_has_read_everything_sent() -> None:
    channel = Channel[int](maxsize=4)
    read: list[int] = []
    await channel.send(1)
    await channel.send(2)
    waiting = asyncio.create_task(channel.taken())
    await asyncio.sleep(0.01)
    assert not waiting.done()

    async def consume() -> None:
        async for item in channel:
            read.append(item)

    consumer = asyncio.create_task(consume())
    await waiting
    assert read == [1, 2]  # taken, and handled up to the consumer's next await
    channel.close()
    await consumer


async def test_a_paced_plain_reply_writes_a_token_only_when_one_is_asked_for() -> None:
    written: list[str] = []

    async def model(name: str) -> AsyncIterator[str]:
        for index in range(8):
            await asyncio.sleep(0)  # a token's time on the model's thread
            written.append(f"{name}{index}")
            yield f"{name}{index} "

    unpaced = PlainReply(model("free"))
    await asyncio.sleep(0.01)  # while a tool is being chosen, it reads ahead freely
    assert len(written) == 8
    await unpaced.stop()

    written.clear()
    paced = PlainReply(model("t"))
    paced.pace()
    taken = []
    async for delta in paced.deltas():
        taken.append(delta)
        await asyncio.sleep(0.01)  # the voice is busy: the model must not write meanwhile
        assert len(written) == len(taken), (written, taken)
        if len(taken) == 3:
            break
    await paced.stop()
    assert taken == ["t0 ", "t1 ", "t2 "]
