from django.urls import path

from synthesis.pages import history as history_pages

urlpatterns = [
    path("history/", history_pages.history, name="synthesis_history"),
    path(
        "history/<uuid:code>/delete/", history_pages.history_delete, name="synthesis_history_delete"
    ),
    path("webhooks/", history_pages.webhook_settings, name="synthesis_webhooks"),
    path("webhooks/rotate/", history_pages.webhook_secret_rotate, name="synthesis_webhook_rotate"),
]
