"""Inbox fixtures: the API app and staff users (from tests/api)."""

from tests.api.conftest import app, client, staff_users  # noqa: F401  (fixtures)
