"""The shared test world: two workspaces and an outsider.

alice owns workspace A (acme), bob owns workspace B (globex), charlie belongs to
neither. Every endpoint test checks that bob and B's API key cannot reach A's
objects.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from django.db import connection
from django.test import Client as HttpClient

from accounts.models import User, Workspace
from accounts.roles import Role
from accounts.services import api_key_create, client_create, membership_add, workspace_create
from kernel.crypto.keyring import reset_key_caches
from kernel.tenancy import workspace_context

PASSWORD = "correct-horse-battery-staple-9"


@dataclass
class World:
    a: Workspace
    b: Workspace
    alice: User
    bob: User
    charlie: User
    key_a: str
    key_b: str


@pytest.fixture(autouse=True)
def _fresh_key_caches() -> Iterator[None]:
    reset_key_caches()
    yield
    reset_key_caches()


def build_world() -> World:
    """Two workspaces (Acme in India, Globex in the US), their owners Alice and Bob,
    Charlie who belongs to neither, a client and an API key in each. Built through
    the services, as a user would; the ``world`` fixture and the browser tests'
    ``browser_world`` share it."""
    a = workspace_create(
        slug="acme",
        name="Acme Collections",
        owner_email="alice@example.com",
        owner_password=PASSWORD,
        jurisdiction="IN",
    )
    b = workspace_create(
        slug="globex", name="Globex Recovery", owner_email="bob@example.com", owner_password=PASSWORD, jurisdiction="US"
    )
    alice = User.objects.get(email="alice@example.com")
    bob = User.objects.get(email="bob@example.com")
    charlie = User.objects.create_user(email="charlie@example.com", password=PASSWORD)
    with workspace_context(a):
        client_create(workspace=a, name="Sahyadri Bank", reference="SAHYADRI", commission_rate_bps=1500)
        key_a = api_key_create(workspace=a, name="A integration").secret
    with workspace_context(b):
        client_create(workspace=b, name="Lone Star CU", reference="LSCU")
        key_b = api_key_create(workspace=b, name="B integration").secret
    return World(a, b, alice, bob, charlie, key_a, key_b)


@pytest.fixture
def world(db: None) -> World:
    return build_world()


def add_member(workspace: Workspace, email: str, role: str = Role.AGENT) -> User:
    user = User.objects.filter(email=email).first() or User.objects.create_user(email=email, password=PASSWORD)
    with workspace_context(workspace):
        membership_add(workspace=workspace, user=user, role=role)
    return user


def login(user: User) -> HttpClient:
    client = HttpClient()
    client.force_login(user, backend="django.contrib.auth.backends.ModelBackend")
    return client


def api(secret: str) -> HttpClient:
    return HttpClient(HTTP_AUTHORIZATION=f"Bearer {secret}")


def is_postgres() -> bool:
    return connection.vendor == "postgresql"


@pytest.fixture
def pg(db: None) -> None:
    """Skip unless the suite runs on PostgreSQL (CI always does)."""
    if not is_postgres():
        pytest.skip("needs PostgreSQL (set DATABASE_URL)")


@pytest.fixture
def private_storage(settings, tmp_path: Path) -> Path:
    """Uploads, documents and rejects go to a temporary directory, so each test sees
    only its own files."""
    root = tmp_path / "private"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": None},
        },
    }
    return root
