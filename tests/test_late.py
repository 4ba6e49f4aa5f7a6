"""Late policy: on time or within the grace period costs nothing; past it, the penalty follows the
policy (per day or hour started, capped, never below zero) and grows with lateness; an extension
moves the deadline for its student only; grader.yml's ``late`` block is checked key by key."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from autograder.config import ConfigError, load_config
from autograder.late import LateError, LatePolicy, assess, parse_time, read_extensions
from tests.conftest import ROOT

DEADLINE = datetime(2026, 12, 10, 23, 59, tzinfo=timezone(timedelta(hours=1)))
offsets = st.integers(-12 * 60, 14 * 60).map(lambda m: timezone(timedelta(minutes=m)))
delays = st.integers(-3 * 86400, 20 * 86400).map(lambda s: timedelta(seconds=s))
policies = st.builds(
    LatePolicy,
    deadline=st.just(DEADLINE),
    penalty=st.floats(0, 60),
    unit=st.sampled_from(["day", "hour"]),
    cap=st.floats(0, 100),
    grace=st.integers(0, 180).map(lambda m: timedelta(minutes=m)),
)
raw_totals = st.floats(0, 44)


@given(policies, delays, raw_totals, offsets)
def test_the_penalty_follows_the_policy(policy, delay, raw, tz):
    submitted = (DEADLINE + delay).astimezone(tz)  # the same instant in any time zone
    got = assess(policy, submitted, ["ada@x.org"], raw, 44.0)
    assert got.late == max(delay, timedelta(0)) and got.deadline == DEADLINE
    if delay <= policy.grace:
        assert got.penalty == 0 and got.total == raw
    else:
        started = math.ceil(
            delay / (timedelta(days=1) if policy.unit == "day" else timedelta(hours=1))
        )
        lost = min(policy.penalty * started, policy.cap) / 100 * 44.0
        assert got.penalty == pytest.approx(min(lost, raw))
    assert 0 <= got.total <= raw and got.total == pytest.approx(raw - got.penalty)


@given(policies, delays, delays, raw_totals)
def test_a_later_submission_never_loses_less(policy, a, b, raw):
    early, late = sorted([a, b])
    first = assess(policy, DEADLINE + early, [], raw, 44.0)
    second = assess(policy, DEADLINE + late, [], raw, 44.0)
    assert first.penalty <= second.penalty and first.total >= second.total


@given(policies, delays, raw_totals, st.sampled_from(["ADA@x.org", " ada@x.org", "101"]))
def test_an_extension_cancels_the_penalty_of_its_student_only(policy, delay, raw, key):
    submitted = DEADLINE + abs(delay)
    extensions = {"ada@x.org": submitted, "101": submitted + timedelta(days=1)}
    mine = assess(policy, submitted, [key], raw, 44.0, extensions)
    assert mine.penalty == 0 and mine.total == raw and mine.late == timedelta(0)
    assert mine.deadline >= submitted
    other = assess(policy, submitted, ["bob@x.org", "102"], raw, 44.0, extensions)
    assert other == assess(policy, submitted, ["bob@x.org", "102"], raw, 44.0)


def test_an_extension_before_the_deadline_does_not_shorten_it():
    policy = LatePolicy(DEADLINE, penalty=10)
    got = assess(policy, DEADLINE, ["ada@x.org"], 10, 44, {"ada@x.org": DEADLINE - timedelta(1)})
    assert got.deadline == DEADLINE and got.penalty == 0


def test_a_submission_without_a_time_is_not_assessed():
    got = assess(LatePolicy(DEADLINE, penalty=100), None, ["ada@x.org"], 30.0, 44.0)
    assert (got.late, got.penalty, got.total, got.deadline) == (timedelta(0), 0, 30.0, None)


@given(
    st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=offsets),
    st.integers(0, 999999),
)
def test_gradescope_and_iso_times_read_the_same_instant(when, micro):
    when = when.replace(microsecond=micro)
    offset = when.strftime("%z")
    gradescope = when.strftime("%Y-%m-%d %H:%M:%S.%f") + "000 " + offset[:3] + ":" + offset[3:]
    assert parse_time(gradescope) == when == parse_time(when.isoformat())


@pytest.mark.parametrize("text", ["2026-12-10 23:59", "tomorrow", "2026-13-40T00:00:00Z", ""])
def test_a_time_without_offset_or_no_time_is_refused(text):
    with pytest.raises(LateError):
        parse_time(text)


def test_the_extensions_file_is_read_and_its_mistakes_named_by_line(tmp_path):
    path = tmp_path / "ext.csv"
    path.write_text(
        "student,deadline\nAda@X.org,2026-12-12T12:00:00+01:00\n101,2026-12-13T00:00Z\n"
    )
    assert read_extensions(path) == {
        "ada@x.org": datetime(2026, 12, 12, 11, tzinfo=UTC),
        "101": datetime(2026, 12, 13, tzinfo=UTC),
    }
    path.write_text("student,deadline\n101,2026-12-12T12:00:00Z\n101,2026-12-14T12:00:00Z\n")
    with pytest.raises(LateError, match=r"ext.csv:3: 101 is listed twice"):
        read_extensions(path)
    path.write_text("student,deadline\nada@x.org,2026-12-12 12:00\n")
    with pytest.raises(LateError, match=r"ext.csv:2: .*no UTC offset"):
        read_extensions(path)


def config(tmp_path: Path, late: str) -> Path:
    """A grader.yml in ``tmp_path`` (ex02's folder linked there) with this ``late`` block."""
    if not (tmp_path / "solutions/ex02").exists():
        (tmp_path / "solutions").mkdir()
        (tmp_path / "solutions/ex02").symlink_to(ROOT / "solutions/ex02")
    path = tmp_path / "grader.yml"
    path.write_text(
        f"assignments:\n  ex02:\n    title: t\n    seed: \"{'ab' * 16}\"\n"
        f"    questions:\n      p1_mse: {{points: 2}}\n    late:\n{late}"
    )
    return path


def test_grader_yml_gives_the_policy(tmp_path):
    late = (
        "      deadline: 2026-12-10T23:59:00+01:00\n      penalty: 10\n      unit: hour\n"
        "      cap: 50\n      grace_minutes: 15\n      extensions: course/ext.csv\n"
    )
    policy = load_config(config(tmp_path, late))["ex02"].late
    assert policy == LatePolicy(
        DEADLINE, 10, "hour", 50, timedelta(minutes=15), tmp_path / "course/ext.csv"
    )
    quoted = '      deadline: "2026-12-10 23:59:00 +01:00"\n'
    assert load_config(config(tmp_path, quoted))["ex02"].late == LatePolicy(DEADLINE)


@pytest.mark.parametrize(
    ("late", "message"),
    [
        ("      deadline: 2026-12-10 23:59:00\n", r"grader.yml:\d+: assignments.ex02.late"),
        ("      deadline: 5\n", r"late.deadline"),
        ("      deadline: 2026-12-10T23:59:00Z\n      cap: 120\n", r"late.cap"),
        ("      deadline: 2026-12-10T23:59:00Z\n      unit: week\n", r"late.unit"),
        ("      penalty: 5\n", r"'deadline' is a required property"),
        ("      deadline: 2026-12-10T23:59:00Z\n      extensions: ../x.csv\n", r"must be a path"),
        ("      deadline: 2026-12-10T23:59:00Z\n      extensions: /x.csv\n", r"must be a path"),
        ("      deadline: 2026-12-10T23:59:00Z\n      extensions: solutions/ex02/x.csv\n",
         r"outside .*ships in the Gradescope zip"),
    ],
)  # fmt: skip
def test_a_bad_late_block_is_refused_with_its_key(tmp_path, late, message):
    with pytest.raises(ConfigError, match=message):
        load_config(config(tmp_path, late))
