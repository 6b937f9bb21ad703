import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.workers import WorkerProcess, purge_queues

# Tests of an engine in-process: no database, broker, cache or worker, so they behave the same
# on every configuration. `.ci/run` runs them once, in its PostgreSQL + Redis pass, and leaves
# them out of the embedded-defaults pass (`-m "not engine_only"`).
ENGINE_ONLY = (
    "tests/synthesis/engines/xtts/",
    "tests/synthesis/engines/piper/",
    "tests/synthesis/engines/chatterbox/",
    "tests/synthesis/serving/test_scheduler.py",
    "tests/synthesis/serving/test_xtts_rows.py",
    "tests/synthesis/serving/test_engine_health.py",
    "tests/synthesis/serving/test_bench.py",
)


def pytest_collection_modifyitems(config, items):
    for item in items:
        if item.nodeid.startswith(ENGINE_ONLY) and item.get_closest_marker("django_db") is None:
            item.add_marker(pytest.mark.engine_only)


@pytest.fixture(scope="session", autouse=True)
def _flush_through_audit_trigger():
    """Let the test suite's flush empty the audit table on PostgreSQL.

    Transactional tests end with Django's `flush` command, a TRUNCATE of every table, which the
    audit table's trigger refuses (as it must in production). Only this command, only in tests,
    runs with that one trigger ignored; UPDATE and DELETE stay refused.
    """
    import pgtrigger
    from django.core.management.commands import flush

    original = flush.Command.handle

    def handle(self, *args, **options):
        with pgtrigger.ignore("audit.AuditEvent:audit_event_no_truncate"):
            return original(self, *args, **options)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(flush.Command, "handle", handle)
        yield


@pytest.fixture
def owner(db):
    return UserFactory(email="owner@example.com")


@pytest.fixture
def teammate(db):
    return UserFactory(email="teammate@example.com")


@pytest.fixture
def stranger(db):
    """Someone with no claim on the owner's things: must get 404 everywhere."""
    return UserFactory(email="stranger@example.com")


@pytest.fixture
def api_client():
    return APIClient()


@pytest.fixture
def owner_client(owner):
    client = APIClient()
    client.force_login(owner)
    return client


@pytest.fixture(scope="session")
def xtts_tiny_dir(tmp_path_factory):
    """A tiny random-weight XTTS checkpoint in the real layout, written once per session."""
    from synthesis.engines.xtts.checkpoint import write_checkpoint

    return write_checkpoint(size="tiny", out_dir=tmp_path_factory.mktemp("xtts-tiny"), seed=0)


@pytest.fixture(scope="session")
def chatterbox_tiny_dir(tmp_path_factory):
    """A tiny random-weight Chatterbox checkpoint in the real layout (~1.4 GB, ~15 s), once
    per session; it differs from the released shapes only in T3's Llama depth and MLP width."""
    from synthesis.engines.chatterbox.checkpoint import write_checkpoint

    out_dir = tmp_path_factory.mktemp("chatterbox-tiny")
    return write_checkpoint(size="tiny", out_dir=out_dir, seed=0)


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory, xtts_tiny_dir):
    """One real worker process consuming every queue, on the configured broker.

    It loads the tiny XTTS checkpoint at start through the same code path as real weights, and
    every other installed engine but Chatterbox: its tests start a worker of their own
    (`chatterbox_worker`), which alone consumes `synthesis.chatterbox`.
    """
    from synthesis.engines import engine_names

    engines = ",".join(name for name in engine_names() if name != "chatterbox")
    with django_db_blocker.unblock():
        purge_queues()
        worker = WorkerProcess(
            log_dir=tmp_path_factory.mktemp("workers"),
            extra_env={
                "XTTS_MODEL_DIR": str(xtts_tiny_dir),
                "TIMBRE_DEVICE": "cpu",
                "TIMBRE_WORKER_ENGINES": engines,
            },
        )
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def chatterbox_worker(django_db_setup, django_db_blocker, tmp_path_factory, chatterbox_tiny_dir):
    """A real worker consuming only `synthesis.chatterbox`, with the tiny Chatterbox checkpoint
    loaded through `from_local`. The audio and default queues stay with `celery_worker`, so a
    test that uses Chatterbox asks for both. Ready once its engine record says so (the load
    runs in the background, after Celery's " ready.").

    It runs in commercial mode, told to load XTTS too: it loads and publishes Chatterbox alone
    (tests/synthesis/chatterbox_worker/test_commercial_mode.py), which costs no second load."""
    from config.celery import engine_queue
    from synthesis.models import EngineStatusRecord
    from tests.support.waiting import wait_for

    queue = engine_queue("chatterbox")
    with django_db_blocker.unblock():
        purge_queues(queue)
        worker = WorkerProcess(
            queues=(queue,),
            log_dir=tmp_path_factory.mktemp("workers"),
            extra_env={
                "CHATTERBOX_MODEL_DIR": str(chatterbox_tiny_dir),
                "TIMBRE_DEVICE": "cpu",
                "TIMBRE_WORKER_ENGINES": "xtts,chatterbox",
                "TIMBRE_COMMERCIAL_ONLY": "1",
            },
        )
    try:
        worker.wait_ready()
        mine = EngineStatusRecord.objects.filter(
            hostname__startswith=worker.name.split("@")[0] + "@", engine="chatterbox"
        )
        with django_db_blocker.unblock():
            record = wait_for(mine.first, timeout=240, what="the Chatterbox engine to load")
        assert record.ready, (record.reason, record.fix, worker.log()[-3000:])
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def playwright_instance():
    """One Playwright driver per session: a second sync_playwright() in the same process fails."""
    import os

    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop; Django then refuses sync DB calls without this.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        yield playwright


@pytest.fixture(scope="session")
def browser(playwright_instance):
    from tests.browser import CHROMIUM_ARGS, chromium_path

    instance = playwright_instance.chromium.launch(
        executable_path=chromium_path(), args=CHROMIUM_ARGS
    )
    yield instance
    instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()
