"""Gradescope: the autograder zip (made with otter-grader) and the grading entry inside it.

Build side (``autograder build`` calls :func:`write_zip`): ``otter generate`` makes ``setup.sh``
(Miniforge and a conda environment), ``environment.yml`` (Python version and pip requirements:
the CPU build of torch if the assignment needs it, our package's dependencies) and
``otter_config.json``. Its ``run_autograder`` would grade inside the student's kernel, so ours
replaces it (and ``run_otter.py`` is left out); our steps are appended to ``setup.sh`` (the
unprivileged user of the sandbox, file modes, import checks); our package, ``grader.yml`` and the
assignment folder (source, hidden tests, public data, at their paths in the project) are shipped
at the zip's root, which Gradescope unzips to ``/autograder/source``.

Grading side (``python -m autograder.gradescope --assignment ID [--root /autograder]``, what
``run_autograder`` runs): find the submission in ``submission/``, grade it with
:func:`autograder.grading.grade_submission` in a trusted process forked from the sandbox template
(the student's code runs only in the sandboxed child), add the written answers for hand grading,
and write ``results/results.json`` atomically. Whatever
happens (no submission, junk, a grader bug, the deadline, SIGTERM), a results.json valid against
``schemas/results.schema.json`` is written.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import os
import re
import signal
import stat
import sys
import tempfile
import time
import tomllib
import zipfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import jsonschema

import autograder
from autograder.config import (
    CONFIG_NAME,
    TORCH_CPU_INDEX,
    Assignment,
    dist_name,
    find_assignment,
    package_text,
    template,
)
from autograder.results import write_json
from autograder.sandbox import call, template_for
from autograder.source import (
    COMPILED_SUFFIX,
    STUB_ID,
    compiled_reference,
    raised_stubs,
    reference_sources,
    top_level_definitions,
)
from autograder.submission import Submission, SubmissionError, load_submission
from autograder.written import WrittenAnswer, read_written

log = logging.getLogger(__name__)

GRADESCOPE_ROOT = Path("/autograder")
"""Where Gradescope puts source/, submission/, submission_metadata.json and results/."""
DEADLINE_SECONDS = 540.0
"""Grading stops (with a valid results.json saying so) before Gradescope's default 10 minutes."""
FINISH_SHARE = 0.05
"""The share of the deadline (plus a second) kept after the grading's time plan ends, for the
written answers, the receipt and results.json."""
SANDBOX_USER = "ag-sandbox"
"""Name given in setup.sh to the sandbox's slot-0 uid (``BASE_UID``)."""
MAX_LISTED = 10
"""How many of the uploaded files a receipt names."""
MINIFORGE = "/root/miniforge3"
"""Where otter's setup.sh installs Miniforge (its run_autograder hard-codes it too)."""
ZIP_DATE = (1980, 1, 1, 0, 0, 0)
"""Timestamp of every zip entry, so that the same inputs make the same zip."""

# Exact, asserted edits of otter's setup.sh: it passes shellcheck (quoted command substitutions)
# and installs only what our grading needs. otter's generic steps serve its own in-kernel
# grading and PDF export, which this zip has neither of (``"pdf": false``; the notebooks are
# graded by our sandbox, not in a Jupyter kernel): R's and C build dependencies, LaTeX and
# pandoc, a conda kernel finder, Playwright's system libraries and Chromium. An otter upgrade
# that changes these lines fails the build.
_OTTER_PDF_STEP = (
    """# install PDF generation dependencies if enabled
if cat /autograder/source/otter_config.json | jq -e '[.pdf, .token] | any'; then
    # install latex
    apt-get install -y texlive-xetex texlive-fonts-recommended texlive-plain-generic \
"""
    """texlive-lang-chinese

    # install pandoc
    wget -nv https://github.com/jgm/pandoc/releases/download/3.1.11.1/pandoc-3.1.11.1-1-amd64.deb \\
        -O /tmp/pandoc.deb
    dpkg -i /tmp/pandoc.deb
fi
"""
)
SETUP_EDITS = (
    ('[ $(uname -p) = "arm" ] || [ $(uname -p) = "aarch64" ]',
     '[ "$(uname -p)" = "arm" ] || [ "$(uname -p)" = "aarch64" ]'),
    ("apt-get install -y wget jq build-essential libcurl4-gnutls-dev libxml2-dev libssl-dev "
     "libgit2-dev\n",
     "apt-get install -y wget  # to download Miniforge; no R or C build dependencies\n"),
    (_OTTER_PDF_STEP, "# no PDF step in this zip: no LaTeX, no pandoc\n"),
    ("mamba install -n otter-env -c conda-forge nb_conda_kernels\n", ""),
    ('mamba run -n otter-env bash -c "playwright install-deps && playwright install chromium"\n',
     "# no Playwright browsers or their system libraries: no PDF export, no notebook kernel\n"),
)  # fmt: skip


class ZipError(RuntimeError):
    """The autograder zip cannot be made (otter generate failed, or its output changed)."""


# -- build side --------------------------------------------------------------------------------


def package_dependencies() -> list[str]:
    """Our package's runtime dependencies: pyproject.toml of the checkout, else its metadata."""
    pyproject = Path(autograder.__file__).resolve().parents[1] / "pyproject.toml"
    if pyproject.is_file():
        return list(tomllib.loads(pyproject.read_text())["project"]["dependencies"])
    requires = importlib.metadata.requires("autograder") or []
    return [r for r in requires if ";" not in r]


def requirements(assignment: Assignment) -> list[str]:
    """The zip's pip requirements: the CPU wheel index when the assignment needs torch, then
    grader.yml's, then every dependency of our package not named there. otter-grader itself is
    added by otter, at the version that generates the zip, which must be the one we pin."""
    from otter import __version__ as otter_version

    lines = list(assignment.requirements)
    if assignment.needs_torch and TORCH_CPU_INDEX not in lines:
        lines.insert(0, TORCH_CPU_INDEX)
    named = {dist_name(line) for line in lines if not line.lstrip().startswith("-")}
    for dep in package_dependencies():
        name = dist_name(dep)
        if name == "otter-grader":
            pinned = re.search(r"==\s*([\w.]+)", dep)
            if not pinned or pinned.group(1) != otter_version:
                raise ZipError(f"pyproject pins {dep!r} but otter {otter_version} is installed")
        elif name == "torch" and not assignment.needs_torch:
            continue  # the grader imports torch only for an assignment that needs it
        elif name not in named:
            lines.append(dep)
            named.add(name)
    return lines


def otter_config(assignment: Assignment) -> dict[str, Any]:
    """``otter_config.json``: read by otter's setup.sh (``pdf``/``token`` decide whether LaTeX is
    installed) and describing the grading for anyone who reads it. Checked against otter's own
    keys, because otter silently ignores unknown ones."""
    from otter.run import AutograderConfig

    config = {
        "lang": "python",
        "assignment_name": assignment.id,
        "points_possible": sum(q.points for q in assignment.graded),
        "show_stdout": assignment.visibility.stdout != "hidden",
        "show_hidden": False,
        "pdf": False,
        "zips": True,
    }
    known = {k for k, v in vars(AutograderConfig).items() if type(v).__name__ == "Key"}
    unknown = sorted(set(config) - known)
    if unknown:
        raise ZipError(f"otter 's AutograderConfig has no key(s) {unknown}")
    return config


def environment_python() -> str:
    """The interpreter of otter's conda environment on Gradescope."""
    from otter.generate import OTTER_ENV_NAME

    return f"{MINIFORGE}/envs/{OTTER_ENV_NAME}/bin/python"


def otter_files(assignment: Assignment) -> dict[str, str]:
    """What ``otter generate`` writes for this assignment, by file name."""
    import otter.generate

    with tempfile.TemporaryDirectory(prefix="autograder-otter-") as tmp:
        work = Path(tmp)
        (work / "tests").mkdir()
        (work / "otter_config.json").write_text(json.dumps(otter_config(assignment), indent=2))
        (work / "requirements.txt").write_text("\n".join(requirements(assignment)) + "\n")
        cwd = os.getcwd()
        os.chdir(work)  # otter looks for default files in the working directory
        try:
            otter.generate.main(
                tests_dir="tests",
                output_path="otter.zip",
                config="otter_config.json",
                requirements="requirements.txt",
                no_environment=True,
                lang="python",
                python_version=assignment.python_version,
            )
        except Exception as exc:
            raise ZipError(f"otter generate failed: {exc}") from exc
        finally:
            os.chdir(cwd)
        with zipfile.ZipFile(work / "otter.zip") as zf:
            return {
                name: zf.read(name).decode() for name in zf.namelist() if not name.endswith("/")
            }


def setup_script(assignment: Assignment, otter_setup: str) -> str:
    """otter's setup.sh (edited for shellcheck) followed by our steps."""
    from autograder.sandbox.sandbox import BASE_UID  # build side: grading loads no numpy here

    if otter_config(assignment)["pdf"]:
        raise ZipError("a PDF step needs otter's LaTeX and Chromium, which setup.sh leaves out")
    for old, new in SETUP_EDITS:
        if old not in otter_setup:
            raise ZipError(f"otter's setup.sh changed: {old!r} not found; review SETUP_EDITS")
        otter_setup = otter_setup.replace(old, new)
    python = environment_python()
    env = str(Path(python).parents[1])
    traverse = [str(p) for p in reversed(Path(env).parents) if str(p) != "/"]
    source = str(GRADESCOPE_ROOT / "source")
    ours = template("setup_trusted.sh").substitute(
        assignment=assignment.id,
        python=python,
        env=env,
        traverse=" ".join(traverse),
        uid=BASE_UID,
        user=SANDBOX_USER,
        source=source,
        check=(
            "import autograder.gradescope, autograder.grading, otter, pyseccomp, torch; "
            "assert torch.version.cuda is None, 'CUDA torch'"
            if assignment.needs_torch
            else "import autograder.gradescope, autograder.grading, otter, pyseccomp"
        ),
        child="numpy, torch" if assignment.needs_torch else "numpy",
        public="\n".join(
            "".join(f"chmod go+x {source}/{d}\n" for d in folders)
            + f"chmod -R go+rX {source}/{rel}"
            for rel, folders in _public_paths(assignment)
        )
        or ": # no public data",
    )
    return otter_setup.rstrip("\n") + "\n" + ours


def _public_paths(assignment: Assignment) -> list[tuple[str, list[str]]]:
    """Each public path relative to the project root (as in the zip), with the folders above
    it that the sandbox user must traverse (without listing them) to reach it."""
    paths = []
    for path in assignment.public:
        rel = path.relative_to(assignment.root)
        paths.append((rel.as_posix(), [d.as_posix() for d in reversed(rel.parents[:-1])]))
    return paths


def run_script(assignment: Assignment) -> str:
    """Our run_autograder: the grading entry in otter's environment, then a last-resort
    results.json should the grader not have written one (killed, or unable to start)."""
    why = (
        "The grader could not run to completion (it was stopped or could not start), so this "
        "submission was not graded. Please tell the course staff."
    )
    fallback = {
        "score": 0,
        "output": why,
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {"assignment": assignment.id, "status": "error"},
        "tests": [_receipt("Submission not graded", [why], ok=False)],
    }
    return template("run_autograder").substitute(
        assignment=assignment.id,
        python=environment_python(),
        fallback=json.dumps(fallback, indent=2),
    )


def _tree(root: Path, base: Path) -> Iterator[tuple[str, Path]]:
    for path in sorted(root.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc":
            yield path.relative_to(base).as_posix(), path


def zip_entries(assignment: Assignment) -> dict[str, tuple[bytes, int]]:
    """Every file of the autograder zip: ``{arcname: (bytes, mode)}``."""
    otter = otter_files(assignment)
    text = {
        "setup.sh": (setup_script(assignment, otter["setup.sh"]), 0o755),
        "run_autograder": (run_script(assignment), 0o755),
        "environment.yml": (otter["environment.yml"], 0o644),
        "otter_config.json": (otter["otter_config.json"], 0o644),
        "requirements.txt": ("\n".join(requirements(assignment)) + "\n", 0o644),
    }
    entries = {name: (body.encode(), mode) for name, (body, mode) in text.items()}
    root = assignment.root
    package = Path(autograder.__file__).resolve().parent
    sources = [(package, package.parent), (assignment.folder, root)]  # public data included
    for folder, base in sources:
        for arcname, path in _tree(folder, base):
            entries[arcname] = (path.read_bytes(), 0o644)
    entries[CONFIG_NAME] = ((root / CONFIG_NAME).read_bytes(), 0o644)
    compiled = assignment.source.relative_to(root).as_posix() + COMPILED_SUFFIX
    entries[compiled] = (compiled_reference(assignment.source), 0o644)
    return entries


def write_zip(assignment: Assignment, path: Path) -> Path:
    """Write the Gradescope autograder zip to ``path`` (reproducibly: sorted, fixed dates)."""
    entries = zip_entries(assignment)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            data, mode = entries[name]
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.external_attr = (stat.S_IFREG | mode) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, data)
    os.replace(tmp, path)
    return path


# -- written answers (hand grading) -------------------------------------------------------------


def _fence(text: str) -> str:
    longest = max((len(m) for m in re.findall(r"`+", text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text}\n{fence}"


def written_tests(answers: Sequence[WrittenAnswer]) -> list[dict[str, Any]]:
    """One results.json entry per hand-graded question: the answer as typed, for the instructor
    grading it in Gradescope (and for the student, as a receipt). Worth 0 points here."""
    return [
        {
            "name": f"{a.question} (written answer, graded by hand)",
            "score": 0,
            "max_score": 0,
            "output": (
                f"**{a.question}** ({a.points:g} point{'' if a.points == 1 else 's'}, graded by "
                "hand). The answer as typed:\n\n"
                + _fence(a.answer)
                if a.answer
                else f"**{a.question}**: no answer found in the notebook."
            ),
            "output_format": "md",
            "visibility": "visible",
        }
        for a in answers
    ]


# -- grading side ------------------------------------------------------------------------------


def results_schema() -> dict[str, Any]:
    """The JSON Schema of Gradescope's results.json."""
    text = package_text("schemas/results.schema.json")
    return json.loads(text)


def validate_results(results: Mapping[str, Any]) -> None:
    """Raise ValueError unless ``results`` is valid strict JSON and matches the schema."""
    json.dumps(results, allow_nan=False)
    errors = list(jsonschema.Draft202012Validator(results_schema()).iter_errors(results))
    if errors:
        err = errors[0]
        where = "/".join(str(p) for p in err.absolute_path) or "(top level)"
        raise ValueError(f"results.json: {where}: {err.message}")


def find_submission(folder: Path, notebook: str) -> Path:
    """The file to grade in Gradescope's submission folder (SubmissionError if none).

    Gradescope unzips an uploaded zip, so the folder usually holds the export's notebook; an
    upload that stayed a zip is graded as an export zip. Symbolic links are never followed
    (a link could point at the hidden tests). Preference: ``notebook`` by name (the shallowest),
    then the only ``.ipynb``, then the only ``.zip``.
    """
    files = submitted_files(folder)
    exact = sorted((p for p in files if p.name == notebook), key=lambda p: len(p.parts))
    if exact and (len(exact) == 1 or len(exact[0].parts) < len(exact[1].parts)):
        return exact[0]
    for suffix in (".ipynb", ".zip"):
        found = [p for p in files if p.suffix == suffix]
        if len(found) == 1:
            return found[0]
        if len(found) > 1:
            names = listing(folder, found)
            raise SubmissionError(f"more than one {suffix} file in the submission ({names})")
    names = listing(folder, files)
    raise SubmissionError(f"no notebook found in the submission (it holds {names})")


def submitted_files(folder: Path) -> list[Path]:
    """The plain files under ``folder`` (no links, no hidden or ``__MACOSX`` folders), sorted."""
    files: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(
            d for d in dirnames if not d.startswith((".", "__MACOSX")) and d != "__pycache__"
        )
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if not path.is_symlink() and path.is_file():
                files.append(path)
    return files


def listing(folder: Path, files: Sequence[Path], limit: int = MAX_LISTED) -> str:
    """``a.ipynb, data/b.csv and 3 more``: the files' paths under ``folder``."""
    names = [p.relative_to(folder).as_posix() for p in files]
    more = f" and {len(names) - limit} more" if len(names) > limit else ""
    return (", ".join(names[:limit]) + more) or "nothing"


def upload_advice(notebook: str) -> str:
    """What a student should upload, in Jupyter and on Colab."""
    return (
        "Upload the zip written by the notebook's last cell in Jupyter (grader.export()), or the "
        f"notebook {notebook} itself (on Colab: File → Download → Download .ipynb)."
    )


def _chmod_tree(path: Path, *, public: bool) -> None:
    """Public: readable by all, writable by none but root. Else: root only."""
    for p in [path, *(path.rglob("*") if path.is_dir() and not path.is_symlink() else [])]:
        if p.is_symlink():
            continue
        mode = stat.S_IMODE(p.lstat().st_mode)
        if public:
            mode = (mode | 0o444 | (0o111 if p.is_dir() else 0)) & ~0o022
        else:
            mode &= 0o700
        os.chmod(p, mode)


def harden(root: Path, assignment: Assignment) -> None:
    """As root, set the file modes the ``uid`` isolation level relies on (namespaces also hide
    these paths): everything under ``root`` root-only (the grader's files, the submission, its
    metadata with names and e-mails, results/) but the public data, which is readable. A no-op
    when not root."""
    if os.geteuid() != 0:
        return
    source = assignment.root
    (root / "results").mkdir(exist_ok=True)
    for child in root.iterdir():
        if child.resolve() != source.resolve():
            _chmod_tree(child, public=False)
    os.chmod(root, 0o711)
    os.chmod(source, 0o711)
    for child in source.iterdir():
        _chmod_tree(child, public=False)
    for rel, folders in _public_paths(assignment):
        for folder in folders:  # traversable, not listable
            os.chmod(source / folder, stat.S_IMODE((source / folder).lstat().st_mode) | 0o011)
        _chmod_tree(source / rel, public=True)
    os.chown(root / "results", 0, 0)


class Interrupted(BaseException):
    """Grading was stopped: the deadline passed, or Gradescope sent SIGTERM.

    A BaseException, like KeyboardInterrupt: a hidden check's ``except Exception`` (which turns a
    surprising student value into a failed check) must not swallow it and grade on."""


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """Raise :class:`Interrupted` in the main thread after ``seconds`` or on SIGTERM."""

    def stop(signum: int, _frame: object) -> None:
        why = "the time limit" if signum == signal.SIGALRM else signal.Signals(signum).name
        raise Interrupted(f"grading was stopped by {why} ({seconds:g} s)")

    old = {s: signal.signal(s, stop) for s in (signal.SIGALRM, signal.SIGTERM)}
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        for s, handler in old.items():
            signal.signal(s, handler)


def failure_results(assignment: Assignment | None, message: str, started: float) -> dict[str, Any]:
    """A valid results.json for a submission that could not be graded: 0 points, and why."""
    tests = []
    if assignment is not None:
        tests = [
            {
                "name": q.id,
                "number": str(i),
                "score": 0,
                "max_score": q.points,
                "status": "failed",
                "output": "not graded: " + message,
                "visibility": "visible",
            }
            for i, q in enumerate(assignment.graded, start=1)
        ]
    return {
        "score": 0,
        "execution_time": round(time.monotonic() - started, 3),
        "output": message,
        "output_format": "text",
        "visibility": "visible",
        "stdout_visibility": "hidden",
        "extra_data": {
            "assignment": assignment.id if assignment else None,
            "grader_version": autograder.__version__,
            "status": "error",
        },
        "tests": tests,
    }


def for_gradescope(
    results: Mapping[str, Any], written: Sequence[WrittenAnswer], receipt: Mapping[str, Any]
) -> dict[str, Any]:
    """The grader's results as Gradescope gets them: the receipt first, the written answers
    appended, and the autograder's own stdout (our log) hidden. (The seed of the hidden inputs
    is in no results: the fingerprint holds a keyed digest of it only.)"""
    out = dict(results)
    out["stdout_visibility"] = "hidden"
    out["tests"] = [dict(receipt), *results.get("tests", []), *written_tests(written)]
    return out


SCORE_SHOWN = {
    "visible": "Your score is shown below.",
    "after_due_date": "Your score will be shown after the due date.",
    "after_published": "Your score will be shown when the course staff publish the grades.",
    "hidden": "Your score is not shown here; the course staff will tell you.",
}


def _receipt(name: str, lines: Sequence[str], *, ok: bool) -> dict[str, Any]:
    return {
        "name": name,
        "score": 0,
        "max_score": 0,
        "status": "passed" if ok else "failed",
        "output": "\n".join(lines),
        "output_format": "text",
        "visibility": "visible",
    }


def not_graded_receipt(
    assignment: Assignment, folder: Path, files: Sequence[Path], reason: str
) -> dict[str, Any]:
    """The visible entry of an upload that could not be graded: why, and what to upload."""
    lines = [
        f"Not graded: {reason.rstrip('.')}.",
        f"Files received: {listing(folder, files)}.",
        upload_advice(assignment.notebook) + " Then submit again.",
    ]
    return _receipt("Submission not graded: please resubmit", lines, ok=False)


def _first_line(cell: str) -> str:
    return next((line.strip() for line in cell.splitlines() if line.strip()), "")[:80]


def answers_problem(
    assignment: Assignment, submission: Submission, results: Mapping[str, Any]
) -> str | None:
    """Why a notebook that scored nothing is likely the wrong file (None if it is not): it is
    the release with no answers (every stub of the source still raises NotImplementedError), or
    it is not this assignment's (it defines none of the reference's functions and classes)."""
    if results.get("score", 0) > 0:
        return None
    stubs = set(STUB_ID.findall(assignment.source.read_text())) & {q.id for q in assignment.graded}
    if stubs and stubs <= raised_stubs(submission.cells):
        return (
            "This is the release with no answers: every question still raises "
            "NotImplementedError, so it scores 0. Did you upload the right file? Save the notebook "
            "you worked in (Ctrl+S) and upload it, or the zip its last cell writes."
        )
    expected = top_level_definitions(reference_sources(assignment.source))
    if expected and not expected & top_level_definitions(submission.cells):
        return (  # the reference's names are not listed: one may be a helper of the solution
            f"This notebook is not {assignment.notebook}: it defines none of the functions the "
            "questions grade. Did you upload the right file?"
        )
    return None


def time_lines(cells: Sequence[str], extra: Mapping[str, Any], limit: float) -> list[str]:
    """What the receipt says of the time (nothing when none ran out): the cells that were
    stopped, the questions the time ran out in, the slowest cell, and what to do."""
    seconds = extra.get("cell_seconds") or []
    stopped = [i for i, s in enumerate(extra.get("cells") or []) if s == "timeout"]
    late = extra.get("out_of_time") or []
    if not seconds or not (stopped or late):
        return []
    lines = [
        f"Time: Gradescope stops the grader after {limit:g} s, so each cell and each question "
        f"gets a share of that time; your graded code cells took {sum(seconds):.1f} s in all."
    ]
    for index in stopped[:MAX_LISTED]:
        lines.append(
            f"- graded code cell {index + 1} was stopped after {seconds[index]:.1f} s, and the "
            "rest of your notebook was graded without it."
        )
    if late:
        slowest = max(range(len(seconds)), key=seconds.__getitem__)
        lines.append(
            f"- the time ran out during {', '.join(late)}, whose unfinished checks failed; the "
            f"slowest cell is graded code cell {slowest + 1} ({seconds[slowest]:.1f} s), "
            f"starting: {_first_line(cells[slowest])}"
        )
    lines.append(
        "What to do: a cell that only runs an experiment (a training run, a plot) need not be "
        "graded: delete it or comment it out before you submit (the notebook's demo cells are "
        "skipped already). If it also defines something an answer uses, move that definition "
        "to a cell of its own. Then submit again."
    )
    return lines


def failure_receipt(root: Path, exc: BaseException) -> dict[str, Any]:
    """The visible entry of a grading that failed or was stopped: why, what was received, and
    what to do."""
    folder = root / "submission"
    try:
        received = listing(folder, submitted_files(folder))
    except OSError:
        received = "(the submission folder cannot be read)"
    if isinstance(exc, Interrupted):
        why = [
            f"Not graded: {exc}, before it could finish.",
            "What to do: make sure every cell of your notebook runs in a few seconds; delete or "
            "comment out cells that only run experiments (training runs, plots), then submit "
            "again. Tell the course staff if this persists.",
        ]
    else:
        why = [
            f"Not graded: the grader failed ({type(exc).__name__}), a problem on the course's "
            "side rather than with your upload. Please submit again, and tell the course staff "
            "if this persists."
        ]
    return _receipt(
        "Submission not graded", [why[0], f"Files received: {received}.", *why[1:]], ok=False
    )


def received_receipt(
    assignment: Assignment,
    folder: Path,
    files: Sequence[Path],
    submission: Submission,
    results: Mapping[str, Any],
    limit: float = DEADLINE_SECONDS,
) -> dict[str, Any]:
    """The visible entry of a graded upload: what was graded (file, the SHA-256 of the notebook
    itself, cells that failed to run or were stopped for time, whether it looks like the wrong
    file) and when the score appears; or, if grading was refused, why."""
    extra = results.get("extra_data", {})
    if extra.get("status") == "refused":
        return _receipt(
            "Submission not graded",
            [
                "Not graded: the grader could not run here, a problem on the course's side rather "
                "than with your upload. Please tell the course staff.",
                f"Files received: {listing(folder, files)}.",
            ],
            ok=False,
        )
    path = submission.path
    graded = path.relative_to(folder).as_posix()
    if path.suffix == ".zip":
        graded += f" (the notebook {assignment.notebook} inside it)"
    elif path.name != assignment.notebook:
        graded += f" (named differently from {assignment.notebook}; graded as the only notebook)"
    digest = submission.notebook_sha256
    problem = answers_problem(assignment, submission, results)
    lines = [
        f"Received and graded: {graded}.",
        f"SHA-256 of the notebook graded: {digest}",
        f"Files received: {listing(folder, files)}.",
        *([problem] if problem else []),
    ]
    cells = submission.cells
    failed = [
        (index, status)
        for index, status in enumerate(extra.get("cells", [])[: len(cells)])
        if status != "ok"
    ]
    if failed:
        lines.append(
            f"{len(failed)} of the {len(cells)} graded code cells failed to run (demo cells are "
            "skipped; grading went on without the failed ones):"
        )
        for index, status in failed[:MAX_LISTED]:
            lines.append(
                f"- graded code cell {index + 1} ({status}), starting: {_first_line(cells[index])}"
            )
    else:
        lines.append(f"All {len(cells)} graded code cells ran (demo cells are skipped).")
    timing = time_lines(cells, extra, limit)
    lines += timing
    lines.append(SCORE_SHOWN.get(assignment.visibility.tests, SCORE_SHOWN["after_published"]))
    if problem:
        return _receipt("Submission received: did you upload the right file?", lines, ok=False)
    if timing:
        return _receipt("Submission received: some of it ran out of time", lines, ok=False)
    return _receipt("Submission received", lines, ok=True)


def grade(
    assignment: Assignment,
    root: Path,
    deadline: float | None = None,
    limit: float = DEADLINE_SECONDS,
) -> dict[str, Any]:
    """Grade ``root/submission`` (the child never sees anything under ``root``) by ``deadline``
    (monotonic time; the grading's time plan ends then) of a run stopped after ``limit`` s; the
    results start with a visible receipt of what was received."""
    from autograder.grading import grade_submission, ungraded_results

    started = time.monotonic()
    folder = root / "submission"
    files = submitted_files(folder)
    try:
        path = find_submission(folder, assignment.notebook)
        submission = load_submission(
            path, notebook_name=assignment.notebook, assignment_id=assignment.id
        )
    except SubmissionError as exc:
        results = ungraded_results(assignment, "submission", str(exc), started)
        results["extra_data"].update(status="unreadable", reason=str(exc))  # as a batch says it
        return for_gradescope(results, [], not_graded_receipt(assignment, folder, files, str(exc)))
    log.info("grading %s", path)
    results = grade_submission(assignment, path, hide=[root], deadline=deadline)
    receipt = received_receipt(assignment, folder, files, submission, results, limit)
    return for_gradescope(results, read_written(path, assignment), receipt)


def run(
    *, assignment_id: str, root: Path = GRADESCOPE_ROOT, deadline: float = DEADLINE_SECONDS
) -> dict[str, Any]:
    """Grade the submission under ``root`` and write ``root/results/results.json``; always."""
    started = time.monotonic()
    assignment: Assignment | None = None
    try:
        with _deadline(deadline):
            assignment = find_assignment(assignment_id, root / "source" / CONFIG_NAME)
            parent = template_for(assignment.preload)  # imports torch while this process goes on
            harden(root, assignment)
            # in a trusted process forked from the template: one import of torch for the
            # grader and the sandboxed child, and nothing of the submission's is read here
            end = started + deadline * (1 - FINISH_SHARE) - 1
            results = call(parent, grade, assignment, root, end, deadline)
        validate_results(results)
    except BaseException as exc:  # noqa: BLE001 - whatever happened, results.json is written
        log.exception("grading failed")
        message = str(exc) if isinstance(exc, Interrupted) else f"{type(exc).__name__}"
        results = failure_results(
            assignment,
            f"The grader failed ({message}); this submission was not graded. Please resubmit, "
            "and tell the course staff if this persists.",
            started,
        )
        results["tests"].insert(0, failure_receipt(root, exc))
    write_json(root / "results" / "results.json", results)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m autograder.gradescope``: what run_autograder runs (exit status 0 if graded)."""
    parser = argparse.ArgumentParser(prog="python -m autograder.gradescope", description=__doc__)
    parser.add_argument("--assignment", required=True, help="assignment id in grader.yml")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path(os.environ.get("AUTOGRADER_ROOT", GRADESCOPE_ROOT)),
        help="Gradescope's root folder (default: $AUTOGRADER_ROOT or /autograder)",
    )
    parser.add_argument("--deadline", type=float, default=DEADLINE_SECONDS, help="seconds")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    results = run(assignment_id=args.assignment, root=args.root, deadline=args.deadline)
    status = results.get("extra_data", {}).get("status", "graded")
    possible = sum(t.get("max_score", 0) for t in results["tests"])
    print(f"{args.assignment}: {results['score']:g} / {possible:g} ({status})")
    return 0 if status not in ("error", "refused") else 1


if __name__ == "__main__":
    # the module under its own name, not __main__: grade() is pickled to the grading process
    from autograder.gradescope import main as imported_main

    sys.exit(imported_main())
