import pytest
from rest_framework.test import APIClient

from tests.factories import UserFactory
from tests.workers import WorkerProcess, purge_queues


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
def celery_worker(django_db_setup, django_db_blocker, tmp_path_factory):
    """One real worker process consuming every queue, on the configured broker."""
    with django_db_blocker.unblock():
        purge_queues()
        worker = WorkerProcess(log_dir=tmp_path_factory.mktemp("workers"))
    try:
        worker.wait_ready()
        yield worker
    finally:
        worker.stop()


@pytest.fixture(scope="session")
def browser():
    import os

    from playwright.sync_api import sync_playwright

    from tests.browser import CHROMIUM_ARGS, chromium_path

    # Playwright's sync API runs an event loop; Django then refuses sync DB calls without this.
    os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=chromium_path(), args=CHROMIUM_ARGS)
        yield instance
        instance.close()


@pytest.fixture
def page(browser):
    context = browser.new_context()
    yield context.new_page()
    context.close()
