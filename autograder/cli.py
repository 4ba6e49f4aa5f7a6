"""The ``autograder`` command: a thin layer over build, grade and verify."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
from pathlib import Path

import click

from autograder.batch import DEFAULT_TIMEOUT, BatchError, grade_batch
from autograder.build import build as build_assignment
from autograder.config import CONFIG_NAME, ConfigError, find_assignment
from autograder.report import summary_table
from autograder.verify import verify as verify_assignment

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


@click.group()
@click.option("-v", "--verbose", is_flag=True, help="log the grader's own steps")
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
    a = find_assignment(assignment, config)
    result = build_assignment(
        a, out=out, release=a.root / "assignments" / a.id if release else None
    )
    click.echo(f"student release: {result.student}\nsolved notebook: {result.solution}")


@cli.command()
@submissions_argument
@assignment_option
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="results folder")
@click.option(
    "-j", "--jobs", type=click.IntRange(min=1), help="parallel workers  [default: the cores]"
)
@click.option("--force", is_flag=True, help="regrade submissions already graded in OUT")
@click.option(
    "--timeout",
    type=click.FloatRange(min=1),
    default=DEFAULT_TIMEOUT,
    show_default=True,
    help="seconds one submission's grading may take before its worker is replaced",
)
@click.option(
    "--unsafe",
    is_flag=True,
    help="grade even below the isolation minimum of grader.yml (docs/threat-model.md)",
)
@config_option
def grade(
    submissions: tuple[Path, ...],
    assignment: str,
    out: Path,
    jobs: int | None,
    force: bool,
    timeout: float,
    unsafe: bool,
    config: Path,
) -> None:
    """Grade SUBMISSIONS: notebooks, otter export zips, folders of them, or a Gradescope export.

    Writes OUT/<name>/results.json as each finishes, OUT/grades.csv and OUT/report.html.
    Re-running skips what is already graded (same file, grader version and seed).
    """
    from autograder.grading import isolation_refusal

    a = find_assignment(assignment, config)
    if unsafe:
        a = replace(a, min_isolation="none")
    elif refusal := isolation_refusal(a, hide=[out]):
        click.echo(f"error: refusing to grade: {refusal} (--unsafe grades anyway)", err=True)
        sys.exit(3)
    try:
        result = grade_batch(a, submissions, out=out, jobs=jobs, force=force, timeout=timeout)
    except BatchError as exc:
        raise click.ClickException(str(exc)) from None
    if result.skipped:
        click.echo(f"already graded, skipped: {len(result.skipped)} (--force regrades them)")
    if result.interrupted:
        click.echo(
            f"interrupted: {len(result.rows)} of the submissions have results in {out}; "
            "run the same command again to grade the rest",
            err=True,
        )
        sys.exit(130)
    assert result.summary is not None
    click.echo(summary_table(result.summary))
    click.echo(f"{out / 'grades.csv'}, {out / 'report.html'}")


@cli.command()
@click.argument("assignment")
@config_option
def verify(assignment: str, config: Path) -> None:
    """Prove ASSIGNMENT is sound: reference full marks, stub zero, every check discriminates."""
    verdict = verify_assignment(find_assignment(assignment, config))
    click.echo(f"reference: {verdict.reference['score']:g}   stub: {verdict.stub['score']:g}")
    for problem in verdict.problems:
        click.echo(f"PROBLEM {problem}", err=True)
    if not verdict.ok:
        sys.exit(1)
    checks = sum(len(t["output"].splitlines()) for t in verdict.reference["tests"])
    click.echo(f"sound: {checks} hidden checks pass on the reference and fail on the stub")


@cli.command()
@submissions_argument
@assignment_option
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="HTML folder")
@config_option
def written(submissions: tuple[Path, ...], assignment: str, out: Path, config: Path) -> None:
    """Write OUT/<name>.html: just the hand-graded answers of each of SUBMISSIONS."""
    from autograder.gradescope import write_written_html

    for page in write_written_html(find_assignment(assignment, config), submissions, out):
        click.echo(str(page))


def main() -> None:
    """Console entry point; configuration errors are one clear line, not a traceback."""
    try:
        cli()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
