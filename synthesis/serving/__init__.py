"""Serving many users at once: one engine thread per engine batches the rows of all jobs.

Phase 1 (built): `Engine.synthesize_rows` and `Engine.row_stepper` (synthesis.engines.base),
XTTS batches across voices, languages and settings, token by token
(synthesis.engines.xtts.continuous), and `scheduler.Scheduler`: fair across users, streaming
first, cancel at the next step, out-of-memory halves the batch.

Phase 2 (built, opt-in: SYNTHESIS_SCHEDULER, default off; `registry.scheduler_for`, the
pipeline's `_scheduled_audio`, the lifecycle's `worker_ready` load; tests in
tests/synthesis/serving/test_worker_serving.py; `manage.py bench_serving`). The design:

- Pool. A synthesis worker runs `celery worker -Q synthesis.<engine> --pool threads -c N`
  (N = SYNTHESIS_JOB_THREADS, about twice the engine's batch limit so that the queue always
  holds rows to refill from). Each task keeps its job thread and does what it does now (claim,
  heartbeat, split, encode, store, settle), except that `pipeline._chunk_audio` no longer calls
  the engine: it makes `job_rows(chunks, ...)` and reads
  `scheduler_for(engine).submit(job.pk, job.user_id, rows, stream=..., cancelled=flag.is_set)`
  chunk by chunk, saving progress after each as before. One process holds the model once; the
  GPU work all happens on the engine thread; job threads only do I/O, ffmpeg and the database
  (torch and ffmpeg release the GIL). Prefork stays for the `audio` and `default` queues.
- Engine loading. `worker_process_init` is not sent with the threads pool (there is no child
  process). The lifecycle's background load starts from `worker_ready` (or `worker_init`) in the
  worker process instead; `runtime.engine_get` already makes a task wait for that load. A
  `scheduler_for(name)` registry builds one Scheduler per loaded engine on first use, under a
  lock, and `worker_shutdown` closes them after the pool has drained (warm shutdown finishes
  running jobs; `close()` fails only what is still queued, and acks_late redelivers it).
- Heartbeats. Per job, as now (runner.heartbeat's thread). The heartbeat thread also checks the
  scheduler: if the engine thread died or has made no step for SYNTHESIS_STALE_SECONDS it stops
  beating, so the sweeper takes the job over as it would after a crash.
- Cancel. `job_heartbeat` returning False (cancelled or taken over) sets the job's
  threading.Event; the engine thread reads it before each step (`cancelled` must be cheap: no
  query from the engine thread), the rows leave, and the job thread gets JobCancelled, the
  pipeline's existing cancel path (refund, stream end).
- Redelivery. Unchanged: a task is acked when it returns (acks_late, reject_on_worker_lost).
  A killed worker loses its N running jobs at once; the broker redelivers them and the sweeper
  reclaims stale heartbeats, and exactly-once output still rests on the job claim. With
  worker_prefetch_multiplier=1 the worker reserves at most N tasks.
- Per-plan concurrency. Unchanged: the plan's job slots are taken at request time, so a user
  never has more jobs in any worker than the plan allows; within a worker the scheduler shares
  steps by user (fairness is per worker, not global across workers).
- Streaming jobs submit with stream=True: their next chunk goes first. First audio is then one
  chunk away; for audio within a chunk the XTTS stepper would hand out each row's new latents
  every `stream_chunk_size` steps to a per-row StreamingDecoder (not built).
- Timestamps: rows carry no alignment yet; jobs that ask for timestamps keep the one-job path
  until the stepper also returns the attention pass (synthesis.engines.xtts.attention).
- Chatterbox and Piper have no row stepper: the scheduler calls `synthesize_rows` once per step
  (the base default: consecutive rows of one job in one `synthesize` call), so they are served
  fairly across users, without cross-voice batches.
- bench_serving turns the scheduler off by running the same load with `-c 1` and the current
  pipeline; `Scheduler.stats()` gives its batch-size histogram.
"""
