"""``autograder new <id>``: a working assignment to start from, in the assignment-folder layout.

It writes ``solutions/<id>/`` (the source with a function question, a variable question and a
written question, each auto-graded one with a public test; the hidden tests with QUESTIONS,
CONTRACTS and ANSWERS; variants for verify; public data) and appends the assignment's entry to
grader.yml. As generated it builds, verifies and grades with full marks (docs/authoring.md).
"""

from __future__ import annotations

import re
import secrets
from pathlib import Path

import yaml

from autograder.config import ConfigError, load_config, package_text

ID = re.compile(r"^[a-z][a-z0-9_]*$")
FILES = {  # template in autograder/templates/ → path in the assignment folder
    "new_source.py": "{id}.py",
    "new_hidden_tests.py": "hidden_tests.py",
    "new_variants.py": "variants.py",
    "new_points.csv": "data/points.csv",
}
ENTRY = """\
{id}:
  title: "{id}: a new assignment"
  public: [data]
  seed: "{seed}"  # the secret of the hidden inputs: keep it from students (docs/authoring.md)
  requirements:
    - numpy>=2,<3
  questions:
    p1_mean_square: {{points: 2}}
    p1_columns: {{points: 1}}
    p1_explain: {{points: 1}}
"""


def _indent(text: str, config: Path) -> str:
    """The indentation of the assignments in grader.yml, whose last top-level key must be
    ``assignments`` (the new entry is appended to the file)."""
    node = yaml.compose(text)
    last = node.value[-1] if node is not None and node.value else None
    if last is None or last[0].value != "assignments" or not last[1].value:
        raise ConfigError(f"{config}: add the entry by hand (assignments is not its last key)")
    return " " * last[1].value[0][0].start_mark.column


def scaffold(aid: str, config: Path) -> list[Path]:
    """Write the assignment ``aid`` next to ``config`` and add its entry; return what was
    written. ConfigError (nothing written) if the id is invalid or already taken."""
    if not ID.match(aid):
        raise ConfigError(f"{aid!r} is not an assignment id (lower case, digits, _)")
    if aid in load_config(config):
        raise ConfigError(f"{config} already has an assignment {aid!r}")
    folder = config.resolve().parent / "solutions" / aid
    if folder.exists():
        raise ConfigError(f"{folder} already exists")
    _indent(config.read_text(), config)
    written = []
    for template, name in FILES.items():
        text = package_text(f"templates/{template}")
        path = folder / name.format(id=aid)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text.replace("__ID__", aid))
        written.append(path)
    text = config.read_text()
    indent = _indent(text, config)
    entry = ENTRY.format(id=aid, seed=secrets.token_hex(16))  # 128 random bits
    entry = "".join(indent + line for line in entry.splitlines(keepends=True))
    config.write_text(text + ("" if text.endswith("\n") else "\n") + entry)
    load_config(config)  # the new entry must load: the assignments mapping ends the file
    return [*written, config]
