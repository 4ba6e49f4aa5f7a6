"""The ``autograder`` command: a thin layer over build, grade and verify."""

from __future__ import annotations

import logging
import sys
from dataclasses import replace
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
    "--unmatched-ok",
    is_flag=True,
    help="exit 0 even when a row of --written matches no submission of OUT",
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
    timeout: float,
    gradescope_export: bool,
    written_csv: Path | None,
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
    from autograder.report import summary_table
    from autograder.results import read_written_scores
    from autograder.sandbox import SandboxError, call, template_for

    a = load_assignment(assignment, config)
    try:
        if unsafe:
            a = replace(a, min_isolation="none")
        elif not (cluster["scheduler"] or cluster["cluster"]) and (  # workers check their own
            refusal := call(template_for(a.preload), _isolation_refusal, a, [out, *submissions])
        ):
            click.echo(f"error: refusing to grade: {refusal} (--unsafe grades anyway)", err=True)
            sys.exit(3)
        scores = None
        if written_csv is not None:
            scores = read_written_scores(written_csv, [q.id for q in a.questions if q.manual])
        with cluster_runner(config, **cluster) as runner:
            result = grade_batch(
                a,
                submissions,
                out=out,
                jobs=jobs,
                force=force,
                timeout=timeout,
                gradescope_export=gradescope_export,
                written=scores,
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
        f"wrote: {out}/<submission>/results.json ({len(result.graded)} now), "
        f"{out / 'grades.csv'}{written_files}, {out / 'report.html'}, {out / 'batch.log'}"
    )
    for problem in result.written_problems:
        click.echo(f"written scores: {problem}", err=True)
    if result.summary.count and not result.summary.graded:
        click.echo("error: no submission could be graded (see batch.log)", err=True)
        sys.exit(1)
    if result.unmatched and not unmatched_ok:
        click.echo(
            "error: some written scores match no submission (fix their names, or --unmatched-ok)",
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
@config_option
def verify(assignment: str, config: Path) -> None:
    """Prove ASSIGNMENT is sound: reference full marks, stub zero, every check discriminates."""
    from autograder.verify import verify as verify_assignment

    verdict = verify_assignment(load_assignment(assignment, config))
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


def main() -> None:
    """Console entry point; configuration errors are one clear line, not a traceback."""
    try:
        cli()
    except ConfigError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)
