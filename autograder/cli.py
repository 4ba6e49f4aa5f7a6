"""The ``autograder`` command: a thin layer over build, grade and verify."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import click

from autograder.build import build as build_assignment
from autograder.config import CONFIG_NAME, ConfigError, find_assignment
from autograder.grading import grade_submission
from autograder.results import gradebook, gradebook_row, write_atomic, write_json
from autograder.verify import verify as verify_assignment

config_option = click.option(
    "--config",
    default=CONFIG_NAME,
    show_default=True,
    type=click.Path(path_type=Path),
    help="the grader.yml to use",
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
@click.argument(
    "submissions", nargs=-1, required=True, type=click.Path(exists=True, path_type=Path)
)
@click.option("-a", "--assignment", required=True, help="assignment id in grader.yml")
@click.option("-o", "--out", required=True, type=click.Path(path_type=Path), help="results folder")
@config_option
def grade(submissions: tuple[Path, ...], assignment: str, out: Path, config: Path) -> None:
    """Grade SUBMISSIONS (.ipynb or export .zip): OUT/<name>/results.json and OUT/grades.csv."""
    a = find_assignment(assignment, config)
    rows = []
    for path in submissions:
        name = path.stem
        results = grade_submission(a, path, hide=[out])
        write_json(out / name / "results.json", results)
        rows.append(gradebook_row(name, results))
        click.echo(f"{name}: {results['score']:g} / {sum(q.points for q in a.graded):g}")
    write_atomic(out / "grades.csv", gradebook(rows, [q.id for q in a.graded]))


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


def main() -> None:
    """Console entry point; configuration errors are one clear line, not a traceback."""
    try:
        cli()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
