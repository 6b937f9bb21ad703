"""The ASGI application uvicorn serves (`make run`; the `asgi` service in production).

HTTP goes to Django's own ASGI handler: sync views run in a thread per request, and streamed
bodies (synthesis.api.responses) are read on the event loop, so a slow listener holds no
thread. WebSockets go through Django Channels' router, which Django's handler lacks: the
ElevenLabs-compatible stream-input (synthesis.compat.stream_input). No channel layer: each
connection is served by the process that accepted it.
"""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")
# Before anything that imports models: this sets Django up.
django_application = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.urls import path, re_path  # noqa: E402

from synthesis.compat.stream_input import NoSuchSocket, StreamInputConsumer  # noqa: E402

websocket_urls = [
    path("v1/text-to-speech/<str:voice_id>/stream-input", StreamInputConsumer.as_asgi()),
    re_path(r"", NoSuchSocket.as_asgi()),
]

application = ProtocolTypeRouter(
    {"http": django_application, "websocket": URLRouter(websocket_urls)}
)
