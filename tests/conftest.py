"""Shared fixtures: the project's config and its ex08 assignment."""

from __future__ import annotations

from pathlib import Path

import pytest

from autograder.config import Assignment, find_assignment

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def ex08() -> Assignment:
    return find_assignment("ex08", ROOT / "grader.yml")
