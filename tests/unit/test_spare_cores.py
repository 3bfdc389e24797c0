"""How many threads a llama.cpp call takes, from CPU counters given by the test (fakes of
/proc's): what is under test is the figure drawn from them."""

from __future__ import annotations

import logging

import pytest

from parley.models.spare_cores import CpuSample, SpareCores


class FakeCpuCounters:
    """Stands in for the system's CPU counters: the test moves the clock and the busy time."""

    def __init__(self) -> None:
        self.now = CpuSample(at_s=100.0, busy_cpu_s=0.0, own_cpu_s=0.0)

    def read(self) -> CpuSample:
        return self.now

    def run_for(self, seconds: float, *, others_cores: float, own_cores: float = 0.0) -> None:
        now = self.now
        self.now = CpuSample(
            at_s=now.at_s + seconds,
            busy_cpu_s=now.busy_cpu_s + seconds * (others_cores + own_cores),
            own_cpu_s=now.own_cpu_s + seconds * own_cores,
        )


@pytest.fixture
def counters() -> FakeCpuCounters:
    return FakeCpuCounters()


def test_before_any_span_is_measured_a_call_takes_the_threads_it_wants(
    counters: FakeCpuCounters,
) -> None:
    spare = SpareCores(read_sample=counters.read, cores=2)
    assert spare.threads_for(2) == 2


def test_another_process_keeping_a_core_busy_leaves_one_thread_and_its_end_gives_two_back(
    counters: FakeCpuCounters, caplog: pytest.LogCaptureFixture
) -> None:
    spare = SpareCores(read_sample=counters.read, cores=2)
    counters.run_for(1.0, others_cores=1.0)
    with caplog.at_level(logging.INFO, logger="parley.models.spare_cores"):
        assert spare.threads_for(2) == 1
    assert "1 thread(s): other processes kept 1.0 of 2 cores busy" in caplog.text
    counters.run_for(0.5, others_cores=1.0)
    assert spare.threads_for(2) == 1
    counters.run_for(1.5, others_cores=0.0)
    assert spare.threads_for(2) == 2


def test_parley_s_own_threads_are_not_counted_as_others(counters: FakeCpuCounters) -> None:
    spare = SpareCores(read_sample=counters.read, cores=2)
    counters.run_for(1.0, others_cores=0.05, own_cores=2.0)
    assert spare.threads_for(2) == 2


def test_a_core_less_than_half_used_by_others_still_takes_a_thread(
    counters: FakeCpuCounters,
) -> None:
    spare = SpareCores(read_sample=counters.read, cores=2)
    counters.run_for(1.0, others_cores=0.2)
    assert spare.threads_for(2) == 2
    counters.run_for(1.5, others_cores=0.45)
    assert spare.threads_for(2) == 2
    counters.run_for(1.5, others_cores=0.6)
    assert spare.threads_for(2) == 1


def test_a_load_near_the_line_does_not_switch_the_count_at_every_call(
    counters: FakeCpuCounters,
) -> None:
    spare = SpareCores(read_sample=counters.read, cores=2)
    counters.run_for(1.5, others_cores=0.55)
    assert spare.threads_for(2) == 1
    counters.run_for(1.5, others_cores=0.45)
    assert spare.threads_for(2) == 1  # not clearly free yet
    counters.run_for(1.5, others_cores=0.35)
    assert spare.threads_for(2) == 2
    counters.run_for(1.5, others_cores=0.45)
    assert spare.threads_for(2) == 2  # not clearly taken either


def test_every_core_busy_still_leaves_one_thread_and_one_wanted_is_one(
    counters: FakeCpuCounters,
) -> None:
    spare = SpareCores(read_sample=counters.read, cores=4)
    counters.run_for(1.0, others_cores=4.0)
    assert spare.threads_for(4) == 1
    counters.run_for(2.0, others_cores=1.0)
    assert spare.threads_for(4) == 3
    assert spare.threads_for(1) == 1


def test_calls_close_together_measure_over_the_last_second_not_since_the_last_call(
    counters: FakeCpuCounters,
) -> None:
    spare = SpareCores(read_sample=counters.read, cores=2)
    counters.run_for(1.0, others_cores=1.0)
    assert spare.threads_for(2) == 1
    # Calls every 50 ms of an idle machine: too short a span alone, but a second of them is
    # measured as a whole.
    for _ in range(10):
        counters.run_for(0.05, others_cores=0.0)
        assert spare.threads_for(2) == 1
    for _ in range(20):
        counters.run_for(0.05, others_cores=0.0)
        spare.threads_for(2)
    assert spare.threads_for(2) == 2
