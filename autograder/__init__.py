"""Trusted auto-grading for machine-learning exercises.

Student code runs in a sandboxed child process; hidden tests, reference solutions and seeds stay
in the grading process. README.md has the workflows; docs/ the architecture, the threat model
and the authoring guide.
"""

__version__ = "0.1.0"
