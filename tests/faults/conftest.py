from __future__ import annotations

from types import SimpleNamespace

import pytest

from tests.faults.support import RedisServer, all_queues, broker_app, purge, rabbitmq_url


@pytest.fixture(params=["redis", "rabbitmq"])
def broker(request, tmp_path_factory, monkeypatch):
    """A broker of the test's own, which the web side (config.queueing) sends through: a
    redis-server the test may stop, or a RabbitMQ virtual host of our own."""
    server = None
    if request.param == "redis":
        server = RedisServer(tmp_path_factory.mktemp("redis"))
        url = server.url
    else:
        url = rabbitmq_url()
    app = broker_app(url)
    purge(app, all_queues())
    monkeypatch.setattr("config.queueing.app", app)
    yield SimpleNamespace(kind=request.param, url=url, app=app, server=server)
    if server is not None:
        server.stop()
