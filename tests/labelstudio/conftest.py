"""The Label Studio tests' names for the server (the fixture lives in tests/conftest.py)."""

from tests.labelstudio.server import ADMIN, PASSWORD, TOKEN, LabelStudio

__all__ = ["ADMIN", "PASSWORD", "TOKEN", "LabelStudio"]
