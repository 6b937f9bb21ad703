"""The cross-job scheduler with the toy engine, in-process: batches, fairness, cancel, errors."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from synthesis.engines.base import SynthesisParams, job_rows
from synthesis.serving.scheduler import JobCancelled, Scheduler
from tests.support.toy_engine import FACTS
from tests.support.toy_engine.engine import SECONDS_PER_CHARACTER
from tests.synthesis.serving.conftest import VOICE, toy_rows


def collect(handle, into: list, errors: list | None = None) -> threading.Thread:
    """Read a job's audio in a thread of its own (as a worker's job thread would)."""

    def read():
        try:
            for audio in handle:
                into.append(audio)
        except Exception as exc:  # the test asserts on it
            (errors if errors is not None else into).append(exc)

    thread = threading.Thread(target=read, daemon=True)
    thread.start()
    return thread


def samples(text: str) -> int:
    return int(len(text) * SECONDS_PER_CHARACTER / 2.0 * 16_000)


@pytest.fixture
def scheduler(stepped):
    scheduler = Scheduler(stepped)
    yield scheduler
    scheduler.close(timeout=0)  # jobs fail at once; the engine thread's step is let through
    stepped.allow(1000)


def test_rows_of_two_users_share_a_batch_and_come_back_in_order(stepped, scheduler):
    a_texts = [f"user a chunk number {i}" for i in range(6)]
    b_texts = ["b one", "b two, a bit longer"]
    a = scheduler.submit("job-a", "user-a", toy_rows(a_texts))
    b = scheduler.submit("job-b", "user-b", toy_rows(b_texts))
    got_a, got_b = [], []
    threads = [collect(a, got_a), collect(b, got_b)]
    scheduler.start()
    stepped.allow(10)
    for thread in threads:
        thread.join(10)
    assert sorted(stepped.calls[0]) == sorted([a_texts[0], a_texts[1], *b_texts])
    # The engine yields each batch last row first; every job still reads its rows in order.
    assert [len(x) for x in got_a] == [samples(t) for t in a_texts]
    assert [len(x) for x in got_b] == [samples(t) for t in b_texts]
    first = scheduler.steps[0]
    assert (first["rows"], first["jobs"], first["users"]) == (4, 2, 2)
    assert scheduler.stats()["batch_histogram"] == {"4": 2}


def test_one_users_many_jobs_do_not_outweigh_another_users_one(stepped, scheduler):
    for n in range(5):
        scheduler.submit(f"a{n}", "user-a", toy_rows([f"a job {n} row {i}" for i in range(4)]))
    b = scheduler.submit("b", "user-b", toy_rows([f"b job row {i}..." for i in range(4)]))
    got = []
    collect(b, got)
    scheduler.start()
    stepped.allow(2)
    for _ in range(200):
        if len(got) == 4:
            break
        threading.Event().wait(0.02)
    # Two steps of four rows: half of them are the one job of user B, FIFO within user A.
    assert len(got) == 4
    assert [t for call in stepped.calls for t in call if t.startswith("b")] == [
        f"b job row {i}..." for i in range(4)
    ]
    assert [t for t in stepped.calls[0] if t.startswith("a")] == ["a job 0 row 0", "a job 0 row 1"]


def test_a_short_job_finishes_while_a_100_chunk_job_still_runs(stepped, scheduler):
    long_texts = [f"chapter sentence {i:03d}" for i in range(100)]
    a = scheduler.submit("book", "user-a", toy_rows(long_texts))
    scheduler.start()
    got_a = []
    reader = collect(a, got_a)
    stepped.allow(1)
    while len(got_a) < 4:
        threading.Event().wait(0.01)
    # The engine thread formed step 2 as soon as step 1 ended: the line joins step 3.
    short = scheduler.submit("line", "user-b", toy_rows(["Hello there."]))
    stepped.allow(2)
    assert [len(x) for x in short] == [samples("Hello there.")]
    assert len(got_a) < 100 and reader.is_alive()
    assert "Hello there." in stepped.calls[2]
    stepped.allow(100)
    reader.join(10)
    assert len(got_a) == 100


def test_streaming_jobs_next_chunk_goes_first(stepped):
    scheduler = Scheduler(stepped, max_batch=2)
    scheduler.submit("bulk", "user-a", toy_rows([f"bulk {i}" for i in range(6)]))
    stream = scheduler.submit("live", "user-a", toy_rows(["live 0", "live 1"]), stream=True)
    scheduler.start()
    stepped.allow(2)
    assert len(list(stream)) == 2
    assert stepped.calls[:2] == [["live 0", "bulk 0"], ["live 1", "bulk 1"]]
    assert scheduler.steps[0]["streaming_rows"] == 1
    scheduler.close(timeout=0)
    stepped.allow(1000)


def test_a_cancelled_job_leaves_the_batch_at_the_next_step(stepped, scheduler):
    flag = threading.Event()
    doomed = scheduler.submit(
        "doomed", "user-a", toy_rows([f"d{i}" for i in range(10)]), cancelled=flag.is_set
    )
    other = scheduler.submit("other", "user-b", toy_rows([f"o{i}" for i in range(4)]))
    got, errors = [], []
    reader = collect(doomed, got, errors)
    scheduler.start()
    stepped.allow(1)
    while len(got) < 2:
        threading.Event().wait(0.01)
    flag.set()
    stepped.allow(5)
    assert len(list(other)) == 4
    reader.join(10)
    # Step 2 was formed before the cancel (as soon as step 1 ended); its audio of the
    # cancelled job is dropped, and step 3 holds none of its rows.
    assert stepped.calls[0] == ["d0", "o0", "d1", "o1"]
    assert stepped.calls[1] == ["d2", "o2", "d3", "o3"]
    assert len(stepped.calls) == 2
    assert len(got) == 2 and isinstance(errors[0], JobCancelled)


def test_handle_cancel_stops_the_reader(stepped, scheduler):
    job = scheduler.submit("j", "u", toy_rows(["one", "two"]))
    job.cancel()
    with pytest.raises(JobCancelled):
        list(job)
    scheduler.start()
    assert stepped.calls == []


def test_a_failing_row_fails_only_its_job(stepped, scheduler):
    bad = scheduler.submit("bad", "user-a", toy_rows(["fine", "boom", "never"]))
    good = scheduler.submit("good", "user-b", toy_rows(["good one", "good two"]))
    scheduler.start()
    stepped.allow(10)
    assert [len(x) for x in good] == [samples("good one"), samples("good two")]
    with pytest.raises(ValueError, match="cannot say boom"):
        list(bad)


def test_out_of_memory_halves_the_batch_and_loses_no_row(stepped, scheduler):
    stepped.memory_rows = 2
    texts = [f"row {i}" for i in range(6)]
    job = scheduler.submit("j", "u", toy_rows(texts))
    scheduler.start()
    stepped.allow(10)
    assert [len(x) for x in job] == [samples(t) for t in texts]
    assert [len(c) for c in stepped.calls] == [4, 2, 2, 2]
    assert isinstance(job, object) and scheduler._limit() == 2


def test_audio_equals_the_engines_own_synthesize(stepped, scheduler):
    texts = ["Saluton mondo.", "Dua frazo."]
    job = scheduler.submit("j", "u", toy_rows(texts))
    scheduler.start()
    stepped.allow(1)
    ours = list(job)
    rows = toy_rows(texts)
    theirs = list(
        stepped.synthesize(
            texts=texts, language="en", conditioning=rows[0].conditioning, params=rows[0].params
        )
    )
    for a, b in zip(ours, theirs, strict=True):
        np.testing.assert_array_equal(a, b)


# -- continuous batching (an engine with a row stepper) ----------------------------------------


@pytest.fixture
def stepper_scheduler(continuous):
    scheduler = Scheduler(continuous, max_batch=2, quantum=100)
    yield scheduler
    scheduler.close(timeout=0)
    continuous.allow(1000)


def test_a_finished_rows_slot_is_refilled_at_the_next_step(continuous, stepper_scheduler):
    short = ["a" * 10, "a" * 9, "a" * 8]  # one step each
    long_row = "b" * 40  # four steps
    a = stepper_scheduler.submit("a", "user-a", toy_rows(short))
    b = stepper_scheduler.submit("b", "user-b", toy_rows([long_row]))
    got_b = []
    reader = collect(b, got_b)
    stepper_scheduler.start()
    continuous.allow(3)
    assert [len(x) for x in a] == [samples(t) for t in short]
    assert reader.is_alive() and got_b == []
    assert continuous.calls == [[short[0], long_row], [long_row, short[1]], [long_row, short[2]]]
    continuous.allow(1)
    reader.join(10)
    assert [len(x) for x in got_b] == [samples(long_row)]
    assert stepper_scheduler.stats()["batch_histogram"] == {"1": 1, "2": 3}


def test_a_cancelled_job_leaves_the_continuous_batch_at_the_next_step(
    continuous, stepper_scheduler
):
    doomed = stepper_scheduler.submit("doomed", "user-a", toy_rows(["d" * 100]))
    other = stepper_scheduler.submit("other", "user-b", toy_rows(["o" * 10, "p" * 10]))
    stepper_scheduler.start()
    continuous.allow(1)
    while len(continuous.calls) < 1:
        threading.Event().wait(0.01)
    doomed.cancel()
    continuous.allow(2)
    assert len(list(other)) == 2
    with pytest.raises(JobCancelled):
        list(doomed)
    # Step 2 was formed before the cancel could be seen at the earliest; step 3 holds none.
    assert continuous.calls[0] == ["d" * 100, "o" * 10]
    assert all("d" * 100 not in call for call in continuous.calls[2:])


def test_a_bad_row_fails_its_job_alone_in_a_continuous_batch(continuous, stepper_scheduler):
    bad = stepper_scheduler.submit("bad", "user-a", toy_rows(["boom", "never"]))
    good = stepper_scheduler.submit("good", "user-b", toy_rows(["fine"]))
    stepper_scheduler.start()
    continuous.allow(5)
    assert len(list(good)) == 1
    with pytest.raises(ValueError, match="cannot say boom"):
        list(bad)


def test_out_of_memory_in_a_continuous_batch_requeues_and_halves(continuous):
    continuous.memory_rows = 1
    scheduler = Scheduler(continuous, max_batch=2)
    job = scheduler.submit("j", "u", toy_rows(["one row", "two row"]))
    scheduler.start()
    continuous.allow(10)
    assert [len(x) for x in job] == [samples("one row"), samples("two row")]
    assert [len(call) for call in continuous.calls] == [2, 1, 1]
    scheduler.close(timeout=0)
    continuous.allow(1000)


def test_a_broken_cancel_check_fails_its_own_job_only(stepped, scheduler):
    def broken():
        raise RuntimeError("cancel flag unreadable")

    bad = scheduler.submit("bad", "user-a", toy_rows(["one"]), cancelled=broken)
    good = scheduler.submit("good", "user-b", toy_rows(["two"]))
    scheduler.start()
    stepped.allow(2)
    assert len(list(good)) == 1
    with pytest.raises(RuntimeError, match="unreadable"):
        list(bad)
    assert scheduler.alive


def test_the_default_synthesize_rows_calls_synthesize_once_per_run_of_one_job(stepped):
    calls = []
    real = stepped.synthesize

    def counting(**kwargs):
        calls.append(kwargs["texts"])
        return real(**kwargs)

    stepped.synthesize = counting
    first = toy_rows(["a1", "a2", "a3"])
    lower = FACTS.params_checked({"speed": 2.0, "pitch_hz": 220.0})
    second = job_rows(["b1", "b2"], language="en", conditioning=VOICE, params=lower)
    rows = [first[0], first[1], second[0], second[1], first[2]]
    stepped.allow(1)
    got = dict(stepped.synthesize_rows(rows))
    # The toy engine takes no seed: rows of one voice, language and parameters share a call.
    assert calls == [["a1", "a2"], ["b1", "b2"], ["a3"]]
    assert [len(got[i]) for i in range(5)] == [samples(row.text) for row in rows]


def test_seeded_rows_share_a_call_only_when_their_seeds_follow_on(stepped):
    calls = []
    real = stepped.synthesize

    def counting(**kwargs):
        calls.append((kwargs["texts"], kwargs["params"]["seed"]))
        return real(**kwargs)

    stepped.synthesize = counting
    params = SynthesisParams({"speed": 2.0, "pitch_hz": 440.0, "seed": 5})
    rows = job_rows(["s1", "s2", "s3"], language="en", conditioning=VOICE, params=params)
    assert [row.seed for row in rows] == [5, 6, 7]
    stepped.allow(1)
    list(stepped.synthesize_rows([rows[0], rows[1], rows[0], rows[2]]))
    # synthesize gives text i the seed + i: a run breaks where that would be wrong.
    assert calls == [(["s1", "s2"], 5), (["s1"], 5), (["s3"], 7)]
