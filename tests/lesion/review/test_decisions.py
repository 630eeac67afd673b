"""The decision format, its log and what a case's decisions add up to."""

from __future__ import annotations

import pytest

from medsegkit.errors import DataError
from medsegkit.lesion.review.decisions import Decision, State, append, fold, parse, read


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "expected a decision"),
        ({"case": "a", "action": "nope"}, "expected a decision"),
        ({"case": 3, "action": "accept"}, "expected a decision"),
        ({"case": "a", "action": "candidate"}, 'needs "candidate"'),
        ({"case": "a", "action": "candidate", "candidate": 0}, 'needs "candidate"'),
        ({"case": "a", "action": "candidate", "candidate": True}, 'needs "candidate"'),
        ({"case": "a", "action": "click", "point": [0.5]}, 'needs "point"'),
        ({"case": "a", "action": "click", "point": [0.5, 1.5]}, 'needs "point"'),
        ({"case": "a", "action": "accept", "colour": "red"}, "unknown field(s) colour"),
        ({"case": "a", "action": "accept", "reviewer": 7}, '"reviewer" must be a string'),
    ],
)
def test_a_malformed_decision_is_refused_naming_where(data, message):
    with pytest.raises(DataError, match="^here: ") as caught:
        parse(data, "here")
    assert message in str(caught.value)


def test_a_decision_round_trips_through_its_json_line(tmp_path):
    decisions = [
        Decision("a", "candidate", candidate=3, reviewer="ana", time="t0"),
        Decision("b", "click", point=(0.25, 0.75)),
        Decision("a", "undo"),
    ]
    for d in decisions:
        append(tmp_path / "log.jsonl", d)
    assert read(tmp_path / "log.jsonl") == decisions


def test_a_torn_last_line_is_dropped_only_when_tolerated(tmp_path):
    log = tmp_path / "log.jsonl"
    append(log, Decision("a", "accept"))
    with open(log, "a") as f:
        f.write('{"case": "b", "act')  # the server was killed while writing
    with pytest.raises(DataError, match="log.jsonl:2: not a JSON object"):
        read(log)
    assert read(log, tolerate_torn_end=True) == [Decision("a", "accept")]


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        ([], State()),
        ([("candidate", 2)], State("reviewed", "candidate", 2)),
        ([("candidate", 2), ("accept", None)], State("reviewed", "candidate", 2)),
        ([("accept", None)], State("reviewed", "blind")),
        ([("candidate", 2), ("exclude", None)], State("excluded", "blind")),
        ([("candidate", 2), ("exclude", None), ("undo", None)], State("reviewed", "candidate", 2)),
        ([("candidate", 2), ("undo", None), ("undo", None)], State()),
        ([("undo", None), ("candidate", 4)], State("reviewed", "candidate", 4)),
    ],
)
def test_fold(actions, expected):
    decisions = [Decision("a", action, candidate=k) for action, k in actions]
    assert fold(decisions) == expected


def test_fold_keeps_who_decided_and_the_point():
    state = fold([Decision("a", "click", point=(0.1, 0.2), reviewer="bo", time="t1")])
    assert (state.choice, state.point, state.reviewer, state.time) == ("click", (0.1, 0.2), "bo", "t1")
