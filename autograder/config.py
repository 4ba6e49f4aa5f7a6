"""``grader.yml``: loading, schema validation with line numbers, and the typed view of it."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from autograder.sandbox import Limits

CONFIG_NAME = "grader.yml"


class ConfigError(ValueError):
    """grader.yml is missing, malformed or does not match the schema."""


@dataclass(frozen=True)
class Question:
    """One question: its id is the key everywhere (stub, tests, points, results)."""

    id: str
    points: float
    manual: bool = False


@dataclass(frozen=True)
class Visibility:
    """Gradescope visibility levels of what students see."""

    tests: str = "after_published"
    stdout: str = "hidden"


@dataclass(frozen=True)
class Assignment:
    """One assignment of grader.yml, with paths resolved against the config's folder."""

    id: str
    title: str
    root: Path
    source: Path
    notebook: str
    hidden_tests: str
    seed: int
    questions: tuple[Question, ...]
    public: tuple[Path, ...] = ()
    python_version: str = "3.11"
    requirements: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    visibility: Visibility = field(default_factory=Visibility)
    min_isolation: str = "uid"
    """grader.yml's ``isolation.minimum``: the weakest sandbox level grading accepts."""

    @property
    def graded(self) -> tuple[Question, ...]:
        """Auto-graded questions, in config order."""
        return tuple(q for q in self.questions if not q.manual)

    def question(self, qid: str) -> Question:
        """The question with id ``qid`` (KeyError if unknown)."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)


def schema() -> dict[str, Any]:
    """The JSON Schema of grader.yml."""
    text = resources.files("autograder").joinpath("schemas/grader.schema.json").read_text()
    return json.loads(text)


def _line_of(node: yaml.Node, path: list[str | int]) -> int:
    """1-based line of the YAML node at ``path`` (or of its nearest existing ancestor)."""
    for key in path:
        if isinstance(node, yaml.MappingNode):
            match = [v for k, v in node.value if k.value == key]
            if not match:
                break
            node = match[0]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
    return node.start_mark.line + 1


def load_config(path: Path | str = CONFIG_NAME) -> dict[str, Assignment]:
    """Read and validate grader.yml; raise ConfigError naming the bad key and its line."""
    path = Path(path)
    try:
        text = path.read_text()
        node = yaml.compose(text)
        data = yaml.safe_load(text)
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    errors = sorted(jsonschema.Draft202012Validator(schema()).iter_errors(data), key=str)
    if errors:
        err = errors[0]
        path_to = list(err.absolute_path)
        if err.validator == "additionalProperties" and isinstance(err.instance, dict):
            known = err.schema.get("properties", {})
            path_to += [k for k in err.instance if k not in known][:1]
        where = ".".join(str(p) for p in path_to) or "(top level)"
        line = _line_of(node, path_to) if node is not None else 1
        raise ConfigError(f"{path}:{line}: {where}: {err.message}")
    root = path.resolve().parent
    minimum = data.get("isolation", {}).get("minimum", "uid")
    return {aid: _assignment(aid, raw, root, minimum) for aid, raw in data["assignments"].items()}


def _assignment(aid: str, raw: dict[str, Any], root: Path, min_isolation: str) -> Assignment:
    return Assignment(
        id=aid,
        title=raw["title"],
        root=root,
        source=root / raw["source"],
        notebook=raw["notebook"],
        hidden_tests=raw["hidden_tests"],
        seed=raw["seed"],
        questions=tuple(
            Question(id=qid, points=q["points"], manual=q.get("manual", False))
            for qid, q in raw["questions"].items()
        ),
        public=tuple(root / p for p in raw.get("public", [])),
        python_version=raw.get("python_version", "3.11"),
        requirements=tuple(raw.get("requirements", [])),
        limits=Limits(**raw.get("limits", {})),
        visibility=Visibility(**raw.get("visibility", {})),
        min_isolation=min_isolation,
    )


def find_assignment(aid: str, config: Path | str = CONFIG_NAME) -> Assignment:
    """The assignment ``aid`` of the config; ConfigError listing the known ids otherwise."""
    assignments = load_config(config)
    if aid not in assignments:
        raise ConfigError(f"no assignment {aid!r} in {config}; known: {', '.join(assignments)}")
    return assignments[aid]
