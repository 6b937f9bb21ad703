"""Fixtures of the moderation tests: an admin, and a Django test client signed in as them."""

import pytest
from django.test import Client

from tests.factories import UserFactory


@pytest.fixture
def admin_user(db):
    return UserFactory(email="admin@example.com", is_staff=True, is_superuser=True)


@pytest.fixture
def admin_client(admin_user):
    client = Client()
    client.force_login(admin_user)
    return client
