"""Hostile submissions for the grading tests, derived from the built notebooks."""
