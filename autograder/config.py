"""``grader.yml``: loading, schema validation with line numbers, and the typed view of it."""

from __future__ import annotations

import json
import re
import string
from dataclasses import dataclass, field
from datetime import timedelta
from importlib import resources
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from autograder.keys import SEED_HINT
from autograder.late import LateError, LatePolicy, parse_time
from autograder.sandbox import Limits

CONFIG_NAME = "grader.yml"
TORCH_CPU_INDEX = "--extra-index-url https://download.pytorch.org/whl/cpu"
"""Added before the requirements of an assignment that needs torch: pip then prefers the CPU
build, where PyPI's Linux torch is the CUDA build with several GB of nvidia-* wheels."""


def dist_name(requirement: str) -> str:
    """The normalised distribution name of a pip requirement line (``Torch==2`` → ``torch``)."""
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", requirement)
    return re.sub(r"[-_.]+", "-", match.group(1)).lower() if match else requirement


class ConfigError(ValueError):
    """grader.yml is missing, malformed or does not match the schema, or an assignment's files
    disagree with it: one line naming what to fix."""


class AuthoringError(ConfigError):
    """An assignment's own files are wrong (a reference cell fails, a module does not load, the
    hidden tests and grader.yml disagree): one line naming the file and what to fix."""


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
    """One assignment of grader.yml, with paths resolved: ``root`` is the config's folder (the
    project), ``folder`` the assignment folder holding everything its author writes."""

    id: str
    title: str
    root: Path
    folder: Path
    source: Path
    notebook: str
    hidden_tests: Path
    seed: str = field(repr=False)
    """The secret of the hidden inputs (32 hex digits): trusted side only (autograder.keys)."""
    questions: tuple[Question, ...]
    public: tuple[Path, ...] = ()
    """Public files and folders (absolute); each keeps its path relative to ``folder``."""
    variants: Path | None = None
    python_version: str = "3.11"
    requirements: tuple[str, ...] = ()
    limits: Limits = field(default_factory=Limits)
    visibility: Visibility = field(default_factory=Visibility)
    notebook_seconds: float = 600
    """verify's budget for the solved notebook, run top to bottom in a kernel."""
    min_isolation: str = "uid"
    """grader.yml's ``isolation.minimum``: the weakest sandbox level grading accepts."""
    late: LatePolicy | None = None
    """grader.yml's ``late``: deadline, penalty, extensions (None: no deadline)."""

    @property
    def needs_torch(self) -> bool:
        """Whether the assignment's requirements name torch: only then does the grader import
        it, the child preload it, the zip install its CPU build and setup.sh check that build."""
        return any(dist_name(r) == "torch" for r in self.requirements if not r.startswith("-"))

    @property
    def preload(self) -> tuple[str, ...]:
        """What the sandbox template imports once for every process forked from it (the graders
        and the sandboxed children): numpy, and torch and matplotlib's pyplot when the
        requirements name them."""
        named = {dist_name(r) for r in self.requirements if not r.startswith("-")}
        extra = [
            m for d, m in (("torch", "torch"), ("matplotlib", "matplotlib.pyplot")) if d in named
        ]
        return ("numpy", *extra)

    @property
    def graded(self) -> tuple[Question, ...]:
        """Auto-graded questions, in config order."""
        return tuple(q for q in self.questions if not q.manual)

    def public_files(self) -> dict[str, Path]:
        """Public paths by the relative path they keep for students, in the sandbox's workdir
        and in the Gradescope zip (``data/x`` of ``solutions/a1`` → ``data/x``)."""
        return {p.relative_to(self.folder).as_posix(): p for p in self.public}

    def question(self, qid: str) -> Question:
        """The question with id ``qid`` (KeyError if unknown)."""
        for q in self.questions:
            if q.id == qid:
                return q
        raise KeyError(qid)


def package_text(relative: str) -> str:
    """A data file of the ``autograder`` package (``schemas/...``, ``templates/...``)."""
    return resources.files("autograder").joinpath(relative).read_text()


def template(name: str) -> string.Template:
    """A template of ``autograder/templates/`` (``$name`` placeholders)."""
    return string.Template(package_text(f"templates/{name}"))


def schema() -> dict[str, Any]:
    """The JSON Schema of grader.yml."""
    return json.loads(package_text("schemas/grader.schema.json"))


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


def load_config(path: Path | str = CONFIG_NAME, only: str | None = None) -> dict[str, Assignment]:
    """Read and validate grader.yml; raise ConfigError naming the bad key and its line. With
    ``only``, only that assignment's files are looked up (a Gradescope zip holds one folder)."""
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
        message = SEED_HINT if path_to[-1:] == ["seed"] else err.message  # never echo it
        raise ConfigError(f"{path}:{line}: {where}: {message}")
    root = path.resolve().parent
    minimum = data.get("isolation", {}).get("minimum", "uid")

    def where(*keys: str | int) -> str:
        line = _line_of(node, ["assignments", *keys])
        return f"{path}:{line}: assignments.{'.'.join(map(str, keys))}"

    return {
        aid: _assignment(aid, raw, root, minimum, where)
        for aid, raw in data["assignments"].items()
        if only is None or aid == only
    }


_QUESTION_BLOCK = re.compile(r"^#\s*#\s*BEGIN QUESTION[ \t]*\n((?:#.*\n)*)", re.MULTILINE)


def source_manual(source: Path) -> dict[str, bool]:
    """Question id → whether the source's ``BEGIN QUESTION`` block says ``manual: true``."""
    found = {}
    for block in _QUESTION_BLOCK.findall(source.read_text(encoding="utf-8")):
        keys = dict(line.lstrip("# ").partition(":")[::2] for line in block.splitlines())
        if "name" in keys:
            found[keys["name"].strip()] = keys.get("manual", "").strip().lower() == "true"
    return found


def _inside(folder: Path, relative: str, what: str) -> Path:
    """``folder / relative``, which must exist and stay inside ``folder``; else ConfigError."""
    target = folder / relative
    if Path(relative).is_absolute() or ".." in Path(relative).parts or relative.strip("./") == "":
        raise ConfigError(f"{what}: {relative!r} must be a path inside {folder}")
    if not target.exists():
        raise ConfigError(f"{what}: {target} does not exist")
    return target


def _assignment(
    aid: str, raw: dict[str, Any], root: Path, min_isolation: str, where: Any
) -> Assignment:
    folder = root / raw.get("folder", f"solutions/{aid}")
    if not folder.is_dir():
        raise ConfigError(f"{where(aid, 'folder')}: {folder} is not a folder")
    public = tuple(
        _inside(folder, p, where(aid, "public", i)) for i, p in enumerate(raw.get("public", []))
    )
    names = sorted(p.relative_to(folder).as_posix() for p in public)
    for a, b in zip(names, names[1:], strict=False):
        if b == a or b.startswith(a + "/"):
            raise ConfigError(f"{where(aid, 'public')}: {b!r} is listed twice (inside {a!r})")
    source = _inside(folder, raw.get("source", f"{aid}.py"), where(aid, "source"))
    in_source = source_manual(source)
    for qid, q in raw["questions"].items():
        if q.get("manual") and in_source.get(qid):
            raise ConfigError(
                f"{where(aid, 'questions', qid, 'manual')}: {qid} is also marked manual in "
                f"{source.name}: declare it once (remove one of the two)"
            )
    late = None
    if "late" in raw:
        late = _late(raw["late"], root, folder, lambda *keys: where(aid, "late", *keys))
    variants = folder / raw.get("variants", "variants.py")
    if "variants" in raw:
        variants = _inside(folder, raw["variants"], where(aid, "variants"))
    return Assignment(
        id=aid,
        title=raw["title"],
        root=root,
        folder=folder,
        source=source,
        notebook=raw.get("notebook", f"{aid}.ipynb"),
        hidden_tests=_inside(
            folder, raw.get("hidden_tests", "hidden_tests.py"), where(aid, "hidden_tests")
        ),
        variants=variants if variants.is_file() else None,
        seed=raw["seed"],
        questions=tuple(
            Question(
                id=qid,
                points=q["points"],
                manual=bool(q.get("manual")) or in_source.get(qid, False),
            )
            for qid, q in raw["questions"].items()
        ),
        public=public,
        python_version=raw.get("python_version", "3.11"),
        requirements=tuple(raw.get("requirements", [])),
        limits=Limits(**raw.get("limits", {})),
        visibility=Visibility(**raw.get("visibility", {})),
        notebook_seconds=raw.get("notebook_seconds", 600),
        min_isolation=min_isolation,
        late=late,
    )


def _late(raw: dict[str, Any], root: Path, folder: Path, where: Any) -> LatePolicy:
    """grader.yml's ``late`` block as a policy; ConfigError naming the key and its line. The
    extensions file is not read here (nor required: the Gradescope zip does not carry it)."""
    try:
        deadline = parse_time(raw["deadline"])
    except LateError as exc:
        raise ConfigError(f"{where('deadline')}: {exc}") from None
    extensions = raw.get("extensions")
    if extensions is not None and (
        Path(extensions).is_absolute() or ".." in Path(extensions).parts
    ):
        raise ConfigError(f"{where('extensions')}: {extensions!r} must be a path inside {root}")
    if extensions is not None and (root / extensions).resolve().is_relative_to(folder.resolve()):
        raise ConfigError(
            f"{where('extensions')}: keep {extensions!r} outside {folder}: everything there ships "
            "in the Gradescope zip, and extensions name students"
        )
    return LatePolicy(
        deadline=deadline,
        penalty=raw.get("penalty", 0),
        unit=raw.get("unit", "day"),
        cap=raw.get("cap", 100),
        grace=timedelta(minutes=raw.get("grace_minutes", 0)),
        extensions=root / extensions if extensions is not None else None,
    )


def find_assignment(aid: str, config: Path | str = CONFIG_NAME) -> Assignment:
    """The assignment ``aid`` of the config; ConfigError listing the known ids otherwise."""
    assignments = load_config(config, only=aid)
    if aid not in assignments:
        assignments = load_config(config)  # the known ids, each checked
        raise ConfigError(f"no assignment {aid!r} in {config}; known: {', '.join(assignments)}")
    return assignments[aid]
