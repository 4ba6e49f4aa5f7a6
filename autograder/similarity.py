"""Similarity between submissions: which pairs share graded code that honest work rarely shares.

``autograder similarity -a ID -o OUT PATH...`` takes what ``grade`` takes (notebooks, export
zips, folders of them, Gradescope exports: :func:`autograder.intake.discover`) and writes
``OUT/similarity.csv`` (the pairs, most similar first, with a score per question and overall)
and ``OUT/index.html`` (the same ranking, then the top pairs side by side with the matching
code highlighted; one page, no script, no network).

What is compared, per question: the graded code, i.e. the top-level functions, classes and
variables that the question's solution cells of the source define (the names the hidden tests
call), as the student last defined them, plus the student's own top-level helpers they use.
Where they sit in the notebook does not matter. The release's given code (every code cell of the
source with its solution lines removed: signatures, docstrings, given functions) is removed.

How: copydetect (MIT) tokenises the code with Pygments and normalises it (every identifier
becomes ``V``, function names ``F``, strings ``S``; comments and whitespace are dropped), which
makes renamed variables, comments and formatting invisible. Each run of ``k`` normalised
characters is a fingerprint (winnowing as in MOSS, copydetect's defaults); fingerprints of the
given code are dropped, and so are those that more than ``common`` submissions share (idioms
everyone writes, answers to one-line questions: MOSS's ``-m``). The score of a pair on a
question is a Jaccard index in which a common fingerprint counts as not shared: S / (|A| + |B| -
S), with S the rare fingerprints both have and |A|, |B| the fingerprints of each; overall, the
shared fingerprints of every question over their union, so long answers weigh more than
one-liners. Reordered functions only lose the few fingerprints that straddle two of them.
Scores are deterministic (a fixed hash, not Python's salted ``hash``).

All pairs are counted at once from a submission × fingerprint matrix (one matrix product per
question), so counting the pairs of a class of 1000 takes seconds, not the 500,000 pair
comparisons of copydetect's own detector (``bench/similarity.py``).
"""

from __future__ import annotations

import ast
import functools
import math
import re
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from autograder.config import Assignment
from autograder.intake import BatchError, Item, discover, stage
from autograder.results import csv_text, html_text, write_atomic

MAX_SHARE = 0.1
"""A fingerprint in more than this share of the class (and more than ``MIN_COMMON``
submissions) is common: it counts for no pair."""
MIN_COMMON = 10
"""A fingerprint shared by up to this many submissions always counts (MOSS's default ``-m``)."""
_BLOCK = 4096
"""Fingerprint columns per matrix product (bounds the memory of a large class)."""


# -- what is graded ------------------------------------------------------------------------------


def _defined(tree: ast.Module) -> dict[str, ast.stmt]:
    """Top-level statements of ``tree`` that define a name (def, class, assignment), by name;
    a later definition replaces an earlier one, as when the cells run."""
    found: dict[str, ast.stmt] = {}
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            found[node.name] = node
        elif isinstance(node, (ast.Assign, ast.AnnAssign, ast.AugAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            for target in targets:
                for sub in ast.walk(target):
                    if isinstance(sub, ast.Name):
                        found[sub.id] = node
    return found


_MAGIC = re.compile(r"^\s*[%!].*$", re.MULTILINE)


def _parse(code: str) -> ast.Module | None:
    """The cell's syntax tree (IPython magics blanked), or None when it does not parse."""
    try:
        return ast.parse(_MAGIC.sub("", code))
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def definitions(cells: Sequence[str]) -> dict[str, str]:
    """The source text of each top-level name the cells define (the last definition wins);
    a cell that does not parse is skipped."""
    texts: dict[str, str] = {}
    for code in cells:
        tree = _parse(code)
        if tree is None:
            continue
        clean = _MAGIC.sub("", code)
        for name, node in _defined(tree).items():
            texts[name] = ast.get_source_segment(clean, node, padded=True) or ""
    return texts


def _free_names(text: str) -> list[str]:
    """Names ``text`` reads and does not bind itself (no parameter, no local), in order."""
    tree = _parse(text)
    if tree is None:
        return []
    nodes = list(ast.walk(tree))[1:]
    bound = {a.arg for a in nodes if isinstance(a, ast.arg)}
    bound |= {n.id for n in nodes if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Load)}
    bound |= {n.name for n in nodes if isinstance(n, (ast.FunctionDef, ast.ClassDef))}
    read = (n.id for n in nodes if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load))
    return [n for n in dict.fromkeys(read) if n not in bound]


@dataclass(frozen=True)
class Release:
    """What the comparison needs of the assignment: each auto-graded question's names, and the
    given code (the release's code without solutions)."""

    names: Mapping[str, tuple[str, ...]]
    given: str

    @functools.cached_property
    def excluded(self) -> set[str]:
        """Names that are never a student's own helper: the graded ones, and the given code's."""
        return set(definitions([self.given])) | {n for v in self.names.values() for n in v}


def _solution_free(code: str) -> str:
    """A source code cell as the release has it, less the prompts' placeholders: the lines
    between ``# BEGIN SOLUTION`` and ``# END SOLUTION`` and the ``# SOLUTION`` lines removed."""
    from autograder.markers import (
        BEGIN_PROMPT,
        BEGIN_SOLUTION,
        END_PROMPT,
        END_SOLUTION,
        SOLUTION_LINE,
    )

    kept, hiding = [], False
    for line in code.splitlines():
        stripped = line.strip()
        if BEGIN_SOLUTION.match(stripped):
            hiding = True
        elif END_SOLUTION.match(stripped):
            hiding = False
        elif not (hiding or SOLUTION_LINE.search(line) or BEGIN_PROMPT.match(stripped)):
            if not END_PROMPT.match(stripped):
                kept.append(line)
    return "\n".join(kept)


def release_of(assignment: Assignment) -> Release:
    """The graded names of each auto-graded question (top-level names its code cells define,
    outside its public tests) and the given code, read from the assignment's source."""
    from autograder.source import is_ignored, raw_marker, read_source

    nb = read_source(assignment.source)
    names: dict[str, list[str]] = {q.id: [] for q in assignment.graded}
    given: list[str] = []
    question, in_tests = None, False
    for cell in nb.cells:
        marker = raw_marker(cell)
        if marker == "BEGIN QUESTION":
            found = re.search(r"^\s*#?\s*name:\s*(\S+)", cell.source, re.MULTILINE)
            question = found.group(1) if found else None
        elif marker == "END QUESTION":
            question = None
        elif marker in ("BEGIN TESTS", "END TESTS"):
            in_tests = marker == "BEGIN TESTS"
        elif cell.cell_type == "code" and not in_tests and not is_ignored(cell):
            given.append(_solution_free(cell.source))
            tree = _parse(cell.source)
            if question in names and tree is not None:
                names[question] += [n for n in _defined(tree) if n not in names[question]]
    return Release({q: tuple(v) for q, v in names.items()}, "\n\n".join(given))


def graded_code(cells: Sequence[str], release: Release) -> dict[str, str]:
    """Per auto-graded question, the student's code the hidden tests run: the question's names as
    last defined, then the student's own top-level functions and classes they use
    (transitively), excluding the names of other questions and of the given code; '' for a
    question with none of its names."""
    defined = definitions(cells)
    out: dict[str, str] = {}
    for qid, names in release.names.items():
        order = [n for n in names if n in defined]
        for name in order:  # grows while iterating: helpers of helpers
            order += [
                u
                for u in _free_names(defined[name])
                if u in defined
                and u not in release.excluded
                and u not in order
                and defined[u].startswith(("def ", "async def ", "class "))
            ]
        out[qid] = "\n\n".join(defined[n] for n in order)
    return out


# -- fingerprints --------------------------------------------------------------------------------


def _settings() -> tuple[int, int]:
    """copydetect's default k-gram length and winnowing window."""
    from copydetect.defaults import GUARANTEE_THRESHOLD, NOISE_THRESHOLD

    return NOISE_THRESHOLD, GUARANTEE_THRESHOLD - NOISE_THRESHOLD + 1


def _kgram_hashes(filtered: str, k: int) -> np.ndarray:
    """A deterministic 52-bit hash of every k-character run of ``filtered`` (a polynomial hash
    modulo 2**64, the low bits kept: exact in copydetect's float window)."""
    codes = np.frombuffer(filtered.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(
        np.uint64
    )
    count = len(codes) - k + 1
    if count <= 0:
        return np.zeros(0, dtype=np.int64)
    hashes = np.zeros(count, dtype=np.uint64)
    base = np.uint64(1_000_003)
    with np.errstate(over="ignore"):
        for j in range(k):
            hashes = hashes * base + codes[j : j + count]
        hashes ^= hashes >> np.uint64(29)
    return (hashes & np.uint64((1 << 52) - 1)).astype(np.int64)


@dataclass
class Fingerprint:
    """One submission's code of one question, normalised and fingerprinted."""

    text: str
    filtered: str = ""
    offsets: np.ndarray = field(default_factory=lambda: np.zeros((0, 2), dtype=np.int64))
    hashes: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    positions: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))


def fingerprint(text: str, boilerplate: np.ndarray | None = None) -> Fingerprint:
    """``text`` tokenised and normalised by copydetect, its winnowed k-gram hashes (those of
    ``boilerplate`` removed) with their positions in the normalised text."""
    from copydetect.utils import filter_code, winnow

    k, window = _settings()
    if not text.strip():
        return Fingerprint(text)
    filtered, offsets = filter_code(text, "code.py", "python")
    hashes, positions = winnow(_kgram_hashes(filtered, k), window, remove_duplicates=False)
    if boilerplate is not None and len(boilerplate):
        keep = ~np.isin(hashes, boilerplate)
        hashes, positions = hashes[keep], positions[keep]
    return Fingerprint(text, filtered, np.asarray(offsets).reshape(-1, 2), hashes, positions)


def given_hashes(release: Release) -> np.ndarray:
    """Every k-gram hash of the given code (not only the winnowed ones: any of them may be a
    student's winnowed fingerprint)."""
    from copydetect.utils import filter_code

    filtered, _ = filter_code(release.given, "given.py", "python")
    return np.unique(_kgram_hashes(filtered, _settings()[0]))


def matches(a: Fingerprint, b: Fingerprint) -> tuple[np.ndarray, np.ndarray]:
    """The regions of ``a.text`` and ``b.text`` whose fingerprints the other has: two 2×N arrays
    of (start, end) character offsets, as copydetect's report highlights them."""
    from copydetect.utils import get_copied_slices

    k, _ = _settings()
    shared = np.intersect1d(a.hashes, b.hashes)
    out = []
    for fp in (a, b):
        slices = get_copied_slices(fp.positions[np.isin(fp.hashes, shared)], k).astype(np.int64)
        if len(fp.offsets) and slices.size:  # positions in the normalised text → in the text
            at = np.clip(np.searchsorted(fp.offsets[:, 0], slices), 0, len(fp.offsets) - 1)
            slices = slices + fp.offsets[:, 1][at]
        out.append(slices)
    return out[0], out[1]


# -- all pairs -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Scores:
    """Per question, submission × submission counts: ``shared[q][i, j]`` rare fingerprints in
    common, ``union[q][i, j]`` the fingerprints of either, common ones counted as not shared."""

    size: int
    questions: tuple[str, ...]
    shared: Mapping[str, np.ndarray]
    union: Mapping[str, np.ndarray]

    def total_shared(self) -> np.ndarray:
        """Rare fingerprints in common, all questions together."""
        return sum(self.shared.values(), np.zeros((self.size, self.size)))

    def question(self, qid: str) -> np.ndarray:
        """The pairs' score on one question, S / (|A| + |B| - S) (0 where neither has code)."""
        return np.divide(
            self.shared[qid],
            self.union[qid],
            out=np.zeros_like(self.union[qid]),
            where=self.union[qid] > 0,
        )

    def overall(self) -> np.ndarray:
        """Shared fingerprints of every question over their union."""
        shared = self.total_shared()
        union = sum(self.union.values(), np.zeros((self.size, self.size)))
        return np.divide(shared, union, out=np.zeros_like(union), where=union > 0)


def common_limit(size: int) -> int:
    """How many submissions may share a fingerprint before it is common."""
    return max(MIN_COMMON, math.ceil(MAX_SHARE * size))


def pair_scores(
    prints: Sequence[Mapping[str, Fingerprint]], questions: Sequence[str], common: int
) -> Scores:
    """Count every pair's shared and total fingerprints, question by question."""
    n = len(prints)
    shared, union = {}, {}
    for qid in questions:
        sets = [np.unique(p[qid].hashes) if qid in p else np.zeros(0, np.int64) for p in prints]
        sizes = np.array([len(s) for s in sets], dtype=np.float64)
        everything = np.concatenate([*sets, np.zeros(0, np.int64)])
        owners = np.repeat(np.arange(n), sizes.astype(np.int64))
        _, column, df = np.unique(everything, return_inverse=True, return_counts=True)
        rare = (df >= 2) & (df <= common)
        keep = rare[column]
        owners, column = owners[keep], np.cumsum(rare)[column[keep]] - 1
        count = np.zeros((n, n), dtype=np.float64)
        for start in range(0, int(rare.sum()), _BLOCK):
            inside = (column >= start) & (column < start + _BLOCK)
            block = np.zeros((n, _BLOCK), dtype=np.float32)
            block[owners[inside], column[inside] - start] = 1.0
            count += block @ block.T
        shared[qid] = count
        union[qid] = sizes[:, None] + sizes[None, :] - count
    return Scores(n, tuple(questions), shared, union)


# -- the pages -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Entry:
    """One submission: its name (its folder in grade's OUT), who, and its graded code (or why it
    has none)."""

    name: str
    label: str
    code: Mapping[str, str] = field(default_factory=dict)
    problem: str | None = None


def _entry(item: Item, assignment: Assignment, release: Release) -> Entry:
    """Read one item of :func:`autograder.intake.discover` (never raises)."""
    from autograder.submission import SubmissionError, load_submission

    label = item.label
    if item.problem is not None:
        return Entry(item.name, label, problem=item.problem)
    try:
        with tempfile.TemporaryDirectory(prefix="autograder-similarity-") as tmp:
            sub = load_submission(
                stage(Path(tmp), item),
                notebook_name=assignment.notebook,
                assignment_id=assignment.id,
            )
    except SubmissionError as exc:
        return Entry(item.name, label, problem=str(exc))
    except Exception as exc:  # noqa: BLE001 - one unreadable submission costs only its row
        problem = f"could not be read ({type(exc).__name__}: {exc})"
        return Entry(item.name, label, problem=problem)
    code = graded_code(sub.cells, release)
    if not any(code.values()):
        return Entry(item.name, label, code, "none of the graded functions is defined")
    return Entry(item.name, label, code)


@dataclass(frozen=True)
class Pair:
    """Two submissions (indexes into the compared entries) and their scores."""

    a: int
    b: int
    overall: float
    shared: int
    questions: Mapping[str, float]


def ranked_pairs(scores: Scores, minimum: float) -> list[Pair]:
    """Pairs with an overall score of at least ``minimum`` (and a shared fingerprint), most
    similar first (ties: more fingerprints shared, then input order)."""
    overall = scores.overall()
    shared = scores.total_shared()
    per_question = {q: scores.question(q) for q in scores.questions}
    a, b = np.triu_indices(len(overall), k=1)
    keep = (overall[a, b] >= minimum) & (shared[a, b] > 0)
    a, b = a[keep], b[keep]
    order = np.lexsort((b, a, -shared[a, b], -overall[a, b]))
    return [
        Pair(
            int(i),
            int(j),
            float(overall[i, j]),
            int(shared[i, j]),
            {q: float(per_question[q][i, j]) for q in scores.questions},
        )
        for i, j in zip(a[order], b[order], strict=True)
    ]


def _highlighted(text: str, slices: np.ndarray) -> str:
    """``text`` escaped for HTML with the regions of ``slices`` in ``<mark>``."""
    parts, last = [], 0
    for start, end in sorted(zip(slices[0].tolist(), slices[1].tolist(), strict=True)):
        start = max(start, last)
        if end <= start:
            continue
        parts += [html_text(text[last:start]), f"<mark>{html_text(text[start:end])}</mark>"]
        last = end
    parts.append(html_text(text[last:]))
    return "".join(parts)


_STYLE = """
body { font-family: sans-serif; margin: 1.5em; line-height: 1.35; }
h1 { font-size: 1.4em; } h2 { font-size: 1.15em; border-top: 1px solid #999; padding-top: 1em; }
h3 { font-size: 1em; }
table { border-collapse: collapse; } td, th { border: 1px solid #ccc; padding: 2px 6px; }
td.n { text-align: right; }
.side { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1fr); gap: 1em; }
.side pre { margin: 0; background: #f6f6f6; padding: 0.5em; white-space: pre-wrap;
            overflow-wrap: anywhere; font-size: 0.85em; }
mark { background: #ffd75e; }
@media print { section { break-inside: avoid-page; } a { color: inherit; text-decoration: none; } }
"""


def _page(assignment: Assignment, entries: Sequence[Entry], pairs: Sequence[Pair], top: int,
          common: int, prints: Sequence[Mapping[str, Fingerprint]]) -> str:  # fmt: skip
    compared = [e for e in entries if e.problem is None]
    k, window = _settings()
    body = [
        f"<h1>{html_text(assignment.title)}: similarity between submissions</h1>",
        f"<p>{len(compared)} submissions compared, {len(pairs)} pairs listed (most similar "
        f"first), the top {min(top, len(pairs))} side by side below. The graded code of each "
        "question is compared with identifiers, strings, comments and layout normalised and the "
        f"given code removed; runs of {k} normalised characters (window {window}) shared by more "
        f"than {common} submissions count for no pair. A high score is a reason to look, not "
        "a proof.</p>",
        "<table><tr><th>#</th><th>submission</th><th>submission</th><th>overall</th>"
        "<th>fingerprints shared</th><th>most similar questions</th></tr>",
    ]
    for rank, p in enumerate(pairs, 1):
        best = sorted((s, q) for q, s in p.questions.items() if s > 0)[::-1][:3]
        link = f'<a href="#pair-{rank}">{rank}</a>' if rank <= top else str(rank)
        body.append(
            f'<tr><td class="n">{link}</td><td>{html_text(compared[p.a].label)}</td>'
            f'<td>{html_text(compared[p.b].label)}</td><td class="n">{p.overall:.2f}</td>'
            f'<td class="n">{p.shared}</td>'
            f"<td>{html_text(', '.join(f'{q} {s:.2f}' for s, q in best))}</td></tr>"
        )
    body.append("</table>")
    for rank, p in enumerate(pairs[:top], 1):
        a, b = compared[p.a], compared[p.b]
        body.append(
            f'<section id="pair-{rank}"><h2>{rank}. {html_text(a.label)} and '
            f"{html_text(b.label)}: {p.overall:.2f}</h2>"
        )
        for qid, score in sorted(p.questions.items(), key=lambda qs: -qs[1]):
            if score <= 0:
                continue
            left, right = matches(prints[p.a][qid], prints[p.b][qid])
            body.append(
                f'<h3>{html_text(qid)}: {score:.2f}</h3><div class="side">'
                f"<pre>{_highlighted(a.code[qid], left)}</pre>"
                f"<pre>{_highlighted(b.code[qid], right)}</pre></div>"
            )
        body.append("</section>")
    missing = [e for e in entries if e.problem is not None]
    if missing:
        body.append("<h2>Not compared</h2><table><tr><th>submission</th><th>why</th></tr>")
        body += [
            f"<tr><td>{html_text(e.label)}</td><td>{html_text(e.problem)}</td></tr>"
            for e in missing
        ]
        body.append("</table>")
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>{html_text(assignment.id)}: similarity</title><style>{_STYLE}</style></head>"
        f"<body>\n{chr(10).join(body)}\n</body></html>\n"
    )


def similarity_csv(
    entries: Sequence[Entry], pairs: Sequence[Pair], questions: Sequence[str]
) -> str:
    """similarity.csv: one row per listed pair, with both submissions' names and labels."""
    columns = ["rank", "a", "b", "a_label", "b_label", "overall", "shared", *questions]
    rows = [
        {
            "rank": rank,
            "a": entries[p.a].name,
            "b": entries[p.b].name,
            "a_label": entries[p.a].label,
            "b_label": entries[p.b].label,
            "overall": round(p.overall, 4),
            "shared": p.shared,
            **{q: round(s, 4) for q, s in p.questions.items()},
        }
        for rank, p in enumerate(pairs, 1)
    ]
    return csv_text(columns, rows)


@dataclass(frozen=True)
class SimilarityResult:
    """What :func:`write_similarity` compared and found."""

    entries: tuple[Entry, ...]
    pairs: tuple[Pair, ...]
    files: tuple[Path, ...]

    @property
    def compared(self) -> list[Entry]:
        return [e for e in self.entries if e.problem is None]


def write_similarity(
    assignment: Assignment,
    paths: Sequence[Path],
    out: Path,
    *,
    gradescope_export: bool = False,
    top: int,
    minimum: float,
) -> SimilarityResult:
    """Compare the submissions in ``paths`` and write similarity.csv (pairs scored ``minimum`` or
    more) and index.html (the ``top`` pairs side by side) into ``out``. Raises only for inputs
    that are not there (BatchError); an unreadable submission is listed as not compared, with
    why."""
    items = discover(paths, notebook_name=assignment.notebook, gradescope_export=gradescope_export)
    if not items:
        shown = ", ".join(str(p) for p in paths)
        raise BatchError(f"no submission (.ipynb, .zip or Gradescope export) in {shown}")
    release = release_of(assignment)
    entries = [_entry(item, assignment, release) for item in items]
    compared = [e for e in entries if e.problem is None]
    boilerplate = given_hashes(release)
    prints = [{q: fingerprint(t, boilerplate) for q, t in e.code.items()} for e in compared]
    questions = [q.id for q in assignment.graded]
    common = common_limit(len(compared))
    pairs = ranked_pairs(pair_scores(prints, questions, common), minimum)
    files = {
        "similarity.csv": similarity_csv(compared, pairs, questions),
        "index.html": _page(assignment, entries, pairs, top, common, prints),
    }
    for name, text in files.items():
        write_atomic(out / name, text)
    return SimilarityResult(tuple(entries), tuple(pairs), tuple(out / n for n in files))
