from django.urls import path

from accounts import views

urlpatterns = [
    path("", views.home, name="home"),
    path("profile/", views.profile, name="profile"),
    path("profile/delete/", views.account_delete, name="account_delete"),
    path("security/", views.security, name="security"),
    path("usage/", views.usage, name="usage"),
    path("keys/", views.api_keys, name="api_keys"),
    path("keys/<str:prefix>/revoke/", views.api_key_revoke, name="api_key_revoke"),
]
