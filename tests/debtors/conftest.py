from __future__ import annotations

from pathlib import Path

import pytest


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
