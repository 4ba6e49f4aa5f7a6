"""The ``autograder`` command: a thin layer over build, grade and verify."""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import sys
from pathlib import Path
from typing import Any

import click

# Only light modules at import: `--help` and argument errors must answer without loading
# torch, numpy, matplotlib or otter (each command imports what it needs).
from autograder.batch import grade_batch
from autograder.cluster import cluster_options, cluster_runner
from autograder.config import CONFIG_NAME, Assignment, ConfigError, find_assignment
from autograder.intake import BatchError
from autograder.workers import DEFAULT_TIMEOUT

config_option = click.option(
    "--config",
    default=CONFIG_NAME,
    show_default=True,
    type=click.Path(path_type=Path),
    help="the grader.yml to use",
)


submissions_argument = click.argument(
    "submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
assignment_option = click.option(
    "-a", "--assignment", required=True, help="assignment id in grader.yml"
)
export_option = click.option(
    "--gradescope-export",
    is_flag=True,
    help="every SUBMISSIONS path is a Gradescope export (else only one laid out exactly as one)",
)


def load_assignment(aid: str, config: Path) -> Assignment:
    """The assignment of ``config``; outside a project, an error that says how to point at one."""
    if not config.is_file():
        raise ConfigError(
            f"no {config} in {Path.cwd()}: run the command in the project's folder, "
            f"or pass --config PATH/TO/{CONFIG_NAME}"
        )
    return find_assignment(aid, config)


def _version(ctx: click.Context, _param: click.Parameter, value: bool) -> None:
    if value and not ctx.resilient_parsing:
        from autograder.fingerprint import version

        click.echo(version())
        ctx.exit()


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log the grader's own steps")
@click.option(
    "--version",
    is_flag=True,
    expose_value=False,
    is_eager=True,
    callback=_version,
    help="the version and the digest of the grading code (recorded in every grade), then exit",
)
def cli(verbose: bool) -> None:
    """Build, verify and grade auto-graded notebook assignments."""
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING)


@cli.command()
@click.argument("assignment")
@click.option("-o", "--out", default="dist", show_default=True, type=click.Path(path_type=Path))
@click.option("--release", is_flag=True, help="also refresh the committed assignments/<id>/")
@config_option
def build(assignment: str, out: Path, release: bool, config: Path) -> None:
    """Build the student release (and solved notebook) of ASSIGNMENT into OUT/<id>/."""
    from autograder.build import build as build_assignment
    from autograder.verify import check_authoring

    a = load_assignment(assignment, config)
    check_authoring(a)  # no release of an assignment that cannot be graded
    result = build_assignment(
        a, out=out, release=a.root / "assignments" / a.id if release else None
    )
    click.echo(f"student release: {result.student}\nsolved notebook: {result.solution}")
    if result.autograder_zip is not None:
        click.echo(f"Gradescope autograder zip: {result.autograder_zip}")


@cli.command()
@submissions_argument
@assignment_option
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="results folder")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), help="parallel workers  [default: the cores]"
)
@click.option("--force", is_flag=True, help="regrade the submissions named, even those current")
@click.option(
    "--replace",
    is_flag=True,
    help="grade a file over OUT's row of another file of the same name (else the row is kept)",
)
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="seconds one submission's grading may take before its worker is replaced",
)
@export_option
@click.option(
    "--written",
    "written_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="hand-graded scores (the written.csv of `autograder written`) to add to grades.csv",
)
@click.option(
    "--times",
    "times_csv",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="when plain files were submitted (CSV: submission,submitted) for the late policy",
)
@click.option(
    "--unmatched-ok",
    is_flag=True,
    help="exit 0 even when a row of --written or --times matches no submission of OUT",
)
@click.option(
    "--unsafe",
    is_flag=True,
    help="grade even below the isolation minimum of grader.yml (docs/threat-model.md)",
)
@cluster_options
@config_option
def grade(
    submissions: tuple[Path, ...],
    assignment: str,
    out: Path,
    jobs: int | None,
    force: bool,
    replace: bool,
    timeout: float,
    gradescope_export: bool,
    written_csv: Path | None,
    times_csv: Path | None,
    unmatched_ok: bool,
    unsafe: bool,
    config: Path,
    **cluster: Any,
) -> None:
    """Grade SUBMISSIONS: notebooks, otter export zips, folders of them, or a Gradescope export.

    OUT is the gradebook of one assignment: OUT/<name>/results.json as each finishes, and from
    every result in OUT, OUT/grades.csv, OUT/changes.csv (scores a regrade changed), and
    OUT/report.html; OUT/batch.log says what happened. A submission is graded again when its
    file or anything that decided its grade changed (the grading code, reference, hidden tests,
    public data, grader.yml's entry); each cause is one line.
    """
    from autograder.gradebook import changes_summary
    from autograder.late import read_times
    from autograder.report import summary_table
    from autograder.results import read_written_scores
    from autograder.sandbox import SandboxError, call, template_for

    a = load_assignment(assignment, config)
    try:
        if unsafe:
            a = dataclasses.replace(a, min_isolation="none")
        elif refusal := call(  # on a cluster too: here first, then every worker for itself
            template_for(a.preload), _isolation_refusal, a, [out, *submissions]
        ):
            click.echo(f"error: refusing to grade: {refusal} (--unsafe grades anyway)", err=True)
            sys.exit(3)
        scores = None
        times = read_times(times_csv) if times_csv is not None else None
        if written_csv is not None:
            scores = read_written_scores(written_csv, [q.id for q in a.questions if q.manual])
        with cluster_runner(config, **cluster) as runner:
            result = grade_batch(
                a,
                submissions,
                out=out,
                jobs=jobs,
                force=force,
                replace=replace,
                timeout=timeout,
                gradescope_export=gradescope_export,
                written=scores,
                times=times,
                runner=runner,
            )
    except ConfigError:  # an authoring mistake the workers found first: one line, by main()
        raise
    except (BatchError, ValueError) as exc:
        raise click.ClickException(str(exc)) from None
    except SandboxError as exc:  # no template here (no seccomp, a killed template...)
        raise click.ClickException(f"cannot grade on this machine: {exc}") from None
    for line in result.reasons:
        click.echo(line)
    for line in result.conflicts:
        click.echo(f"not graded: {line}", err=True)
    if result.skipped:
        click.echo(f"current, not graded again: {len(result.skipped)} (--force regrades them)")
    if result.interrupted:
        click.echo(
            f"interrupted: {len(result.rows)} of the submissions have results in {out}; "
            "run the same command again to grade the rest",
            err=True,
        )
        sys.exit(130)
    assert result.summary is not None
    click.echo(summary_table(result.summary))
    for line in changes_summary(result.changes, a):
        click.echo(line)
    if result.stale:
        names = sorted(result.stale)
        shown = ", ".join(names[:5]) + (", ..." if len(names) > 5 else "")
        click.echo(
            f"stale: {len(names)} rows of {out} were graded before a change and were not named "
            f"({shown}): grade their files to update them; grades.csv marks them stale",
            err=True,
        )
    written_files = f", {out / 'changes.csv'}" if result.changes else ""
    click.echo(
        f"wrote: {out}/<submission>/results.json ({len(result.graded)} graded now, "
        f"{len(result.rescored)} rescored), "
        f"{out / 'grades.csv'}{written_files}, {out / 'report.html'}, {out / 'batch.log'}"
    )
    for problem in result.problems:
        click.echo(f"problem: {problem}", err=True)
    if result.summary.count and not result.summary.graded:
        click.echo("error: no submission could be graded (see batch.log)", err=True)
        sys.exit(1)
    if result.unmatched and not unmatched_ok:
        click.echo(
            "error: some written scores or times match no submission (fix their names, or "
            "--unmatched-ok)",
            err=True,
        )
        sys.exit(1)


def _isolation_refusal(assignment: Assignment, hide: list[Path]) -> str | None:
    """``isolation_refusal``, in a process forked from the sandbox template as the grading will
    be: the grading modules (numpy) stay out of this process, which only writes what the workers
    send."""
    from autograder.grading import isolation_refusal

    return isolation_refusal(assignment, hide=hide)


@cli.command()
@click.argument("assignment")
@click.option(
    "-v", "--verbose", is_flag=True, help="Print each question's checks × mistakes/rewrites table."
)
@config_option
def verify(assignment: str, verbose: bool, config: Path) -> None:
    """Prove ASSIGNMENT is sound: reference full marks, stub zero, every check discriminates."""
    from autograder.verify import variant_table
    from autograder.verify import verify as verify_assignment

    verdict = verify_assignment(load_assignment(assignment, config))
    if verbose:
        click.echo(variant_table(verdict))
    click.echo(f"reference: {verdict.reference['score']:g}   stub: {verdict.stub['score']:g}")
    for problem in verdict.problems:
        click.echo(f"PROBLEM {problem}", err=True)
    if not verdict.ok:
        sys.exit(1)
    checks = sum(len(t["output"].splitlines()) for t in verdict.reference["tests"])
    click.echo(f"sound: {checks} hidden checks pass on the reference and fail on the stub")


@cli.command(name="new")
@click.argument("assignment")
@config_option
def new(assignment: str, config: Path) -> None:
    """Scaffold ASSIGNMENT in solutions/ASSIGNMENT/ with its grader.yml entry (docs/authoring.md):
    a function, a variable and a written question that build, verify and grade as generated."""
    from autograder.scaffold import scaffold

    if not config.is_file():
        load_assignment(assignment, config)  # the error saying where to run it
    for path in scaffold(assignment, config):
        click.echo(f"wrote: {path}")
    click.echo(f"next: autograder build {assignment}; autograder verify {assignment}")


@cli.command()
@submissions_argument
@assignment_option
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="HTML folder")
@click.option("--anonymise", is_flag=True, help="name submissions by a code on the pages")
@export_option
@config_option
def written(
    submissions: tuple[Path, ...],
    assignment: str,
    out: Path,
    anonymise: bool,
    gradescope_export: bool,
    config: Path,
) -> None:
    """Write the hand-graded answers of SUBMISSIONS (what `grade` takes) for grading by question.

    OUT/index.html links OUT/questions/<question>.html (every student's answer to one question)
    and OUT/students/<submission>.html; OUT/written.csv is the template of the scores, which
    `grade --written OUT/written.csv` adds to grades.csv.
    """
    from autograder.written import write_written

    a = load_assignment(assignment, config)
    try:
        files = write_written(
            a, submissions, out, anonymise=anonymise, gradescope_export=gradescope_export
        )
    except BatchError as exc:
        raise click.ClickException(str(exc)) from None
    pages = [f for f in files if f.suffix == ".html"]
    click.echo(
        f"wrote {len(pages)} pages in {out} (start at {out / 'index.html'}) "
        f"and the score template {out / 'written.csv'}"
    )


@cli.command()
@submissions_argument
@assignment_option
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="report folder")
@click.option(
    "--top", type=click.IntRange(min=0), default=30, show_default=True,
    help="pairs shown side by side in OUT/index.html",
)  # fmt: skip
@click.option(
    "--min-score", type=click.FloatRange(0, 1), default=0.1, show_default=True,
    help="overall score from which a pair is listed",
)  # fmt: skip
@export_option
@config_option
def similarity(
    submissions: tuple[Path, ...],
    assignment: str,
    out: Path,
    top: int,
    min_score: float,
    gradescope_export: bool,
    config: Path,
) -> None:
    """Compare the graded code of SUBMISSIONS (what `grade` takes), question by question.

    OUT/similarity.csv lists the pairs, most similar first, with a score per question and
    overall; OUT/index.html shows them with the top pairs side by side, matching code marked.
    Renamed variables, reordered functions, comments and layout do not hide a copy; the
    release's given code and code most of the class shares do not count.
    """
    from autograder.similarity import write_similarity

    if importlib.util.find_spec("copydetect") is None:
        raise click.ClickException("similarity needs copydetect: pip install -e '.[course]'")
    a = load_assignment(assignment, config)
    try:
        result = write_similarity(
            a, submissions, out, gradescope_export=gradescope_export, top=top, minimum=min_score
        )
    except BatchError as exc:
        raise click.ClickException(str(exc)) from None
    skipped = len(result.entries) - len(result.compared)
    click.echo(
        f"compared {len(result.compared)} submissions ({skipped} not compared: see the page); "
        f"{len(result.pairs)} pairs scored {min_score:g} or more"
    )
    click.echo(f"wrote: {out / 'similarity.csv'}, {out / 'index.html'}")


@cli.command(name="export")
@click.argument("graded", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--format", "fmt", type=click.Choice(["canvas", "moodle", "csv"]), required=True,
    help="the LMS's gradebook import layout (csv: one row per student, points per question)",
)  # fmt: skip
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="file to write")
@click.option(
    "-a", "--assignment", help="assignment id in grader.yml  [default: GRADED's]"
)
@click.option(
    "--column",
    help="grades.csv column to export  [default: adjusted with a late policy, else total]",
)
@click.option("--title", help="the grade column's heading  [default: the assignment's title]")
@click.option(
    "--canvas-assignment-id", help="Canvas's id of the assignment (its column then updates it)"
)
@config_option
def export_grades(
    graded: Path,
    fmt: str,
    out: Path,
    assignment: str | None,
    column: str | None,
    title: str | None,
    canvas_assignment_id: str | None,
    config: Path,
) -> None:
    """Write GRADED/grades.csv (the OUT of `grade`) in the gradebook import layout of Canvas or
    Moodle, keyed by email or SID; rows that cannot be keyed are refused and listed."""
    from autograder.export import ExportError, export, graded_assignment

    try:
        a = load_assignment(assignment or graded_assignment(graded), config)
        done = export(
            graded, out, fmt, title=title or a.title, column=column,
            points={q.id: q.points for q in a.questions},
            canvas_assignment_id=canvas_assignment_id,
        )  # fmt: skip
    except ExportError as exc:
        raise click.ClickException(str(exc)) from None
    for r in done.refused:
        click.echo(f"refused: {r.submission} ({r.who or 'nobody named'}): {r.reason}", err=True)
    click.echo(f"wrote {len(done.students)} students to {out} ({len(done.refused)} refused)")
    missing = [q.id for q in a.questions if q.manual and q.id not in done.questions]
    if missing:
        click.echo(
            f"note: the totals hold no written scores ({', '.join(missing)}): run `grade` with "
            "--written first if the LMS should have them",
            err=True,
        )


def main() -> None:
    """Console entry point; configuration errors are one clear line, not a traceback."""
    try:
        cli()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
