from django.urls import path

from synthesis.api import account, batches, catalog, timings, views

urlpatterns = [
    path("engines", views.EngineList.as_view(), name="api-engines"),
    path("models", catalog.ModelList.as_view(), name="api-models"),
    path("synthesis", views.JobListCreate.as_view(), name="api-synthesis"),
    path("synthesis/stream", views.JobStream.as_view(), name="api-synthesis-stream"),
    path("synthesis/batch", batches.BatchListCreate.as_view(), name="api-synthesis-batches"),
    path("synthesis/batch/<uuid:code>", batches.BatchDetail.as_view(), name="api-synthesis-batch"),
    path(
        "synthesis/batch/<uuid:code>/archive",
        batches.BatchArchive.as_view(),
        name="api-synthesis-batch-archive",
    ),
    path("synthesis/<uuid:code>", views.JobDetail.as_view(), name="api-synthesis-job"),
    path("synthesis/<uuid:code>/cancel", views.JobCancel.as_view(), name="api-synthesis-cancel"),
    path("synthesis/<uuid:code>/audio", views.JobAudio.as_view(), name="api-synthesis-audio"),
    path(
        "synthesis/<uuid:code>/timings", timings.JobTimings.as_view(), name="api-synthesis-timings"
    ),
    path(
        "synthesis/<uuid:code>/captions.vtt",
        timings.JobCaptionsVtt.as_view(),
        name="api-synthesis-captions-vtt",
    ),
    path(
        "synthesis/<uuid:code>/captions.srt",
        timings.JobCaptionsSrt.as_view(),
        name="api-synthesis-captions-srt",
    ),
    path(
        "synthesis/<uuid:code>/captions",
        timings.JobCaptions.as_view(),
        name="api-synthesis-captions-query",
    ),
    path("usage", account.Usage.as_view(), name="api-usage"),
    path("webhooks/secret", account.WebhookSecretView.as_view(), name="api-webhook-secret"),
    path(
        "webhooks/secret/rotate",
        account.WebhookSecretRotate.as_view(),
        name="api-webhook-secret-rotate",
    ),
    path(
        "webhooks/deliveries", account.WebhookDeliveryList.as_view(), name="api-webhook-deliveries"
    ),
    path(
        "webhooks/deliveries/<uuid:code>",
        account.WebhookDeliveryDetail.as_view(),
        name="api-webhook-delivery",
    ),
]
