"""Trusted auto-grading for machine-learning exercises.

Student code runs in a sandboxed child process; hidden tests, reference solutions and seeds stay
in the grading process. See README.md for the workflows and GUIDE-level design notes.
"""

__version__ = "0.1.0"
