"""The pipeline keys of tasks over time: `due` (after the stage, the contract start or a task),
`reminders` (the pipeline's, a task's own), `informed` and `client_plan`; what the loader refuses."""

from __future__ import annotations

from pathlib import Path

from agent.businesstime import Duration
from agent.pipeline.definition import Pipeline
from agent.pipeline.loader import load_pipeline_file

HEAD = """\
pipeline: timing
name: Timing
roles:
  csm: {side: ours}
  onboarding_manager: {side: ours}
  client_admin: {side: client}
"""


def load(tmp_path: Path, text: str) -> tuple[Pipeline | None, list[str]]:
    path = tmp_path / "timing.yaml"
    path.write_text(HEAD + text, encoding="utf-8")
    pipeline, issues = load_pipeline_file(path, None)
    return pipeline, [f"{i.line}: {i.message}" for i in issues if i.severity == "error"]


def test_every_form_of_the_keys_loads(tmp_path: Path) -> None:
    pipeline, errors = load(
        tmp_path,
        """\
reminders: {before_due: 1 business day, escalate_after: 2 business days}
informed: {every: 1 week}
client_plan: {every: 1 week, at: "09:30", to: [client_admin]}
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: a, title: A, R: csm, A: onboarding_manager, due: 3 business days}
      - {id: b, title: B, R: client_admin, A: csm, due: {after: contract_start, in: 5 business days}}
      - {id: c, title: C, R: csm, A: csm, due: {after: a, in: 2 days}, reminders: {before_due: null}}
      - {id: d, title: D, R: csm, A: csm, reminders: {escalate_after: 1 day}}
  - {id: live, name: Live, end: true}
""",
    )
    assert errors == [] and pipeline is not None
    a, b, c, d = (pipeline.task_def(k) for k in "abcd")
    assert (
        a is not None
        and a.due is not None
        and (a.due.after, str(a.due.in_)) == ("stage_entered", "3 business days")
    )
    assert b is not None and b.due is not None and b.due.after == "contract_start"
    assert c is not None and c.due is not None and c.due.after == "a"
    assert pipeline.reminders_for(a).before_due == Duration.parse("1 business day")
    assert pipeline.reminders_for(c).before_due is None  # turned off for this task alone
    assert pipeline.reminders_for(c).escalate_after == Duration.parse("2 business days")
    assert pipeline.reminders_for(d).escalate_after == Duration.parse("1 day")
    assert pipeline.head.client_plan is not None and pipeline.head.client_plan.to == ["client_admin"]
    assert pipeline.side_of("client_admin") == "client" and pipeline.side_of("csm") == "ours"


def test_a_due_date_after_an_unknown_task_itself_or_a_loop_is_refused(tmp_path: Path) -> None:
    _, errors = load(
        tmp_path,
        """\
stages:
  - id: set-up
    name: Set-Up
    tasks:
      - {id: a, title: A, R: csm, A: csm, due: {after: nothing, in: 1 day}}
      - {id: b, title: B, R: csm, A: csm, due: {after: b, in: 1 day}}
      - {id: c, title: C, R: csm, A: csm, due: {after: d, in: 1 day}}
      - {id: d, title: D, R: csm, A: csm, due: {after: c, in: 1 day}}
  - {id: live, name: Live, end: true}
""",
    )
    assert errors == [  # the head's 6 lines, then the stage's 4: task a is on line 11
        "11: unknown task 'nothing'; expected one of ['b', 'c', 'contract_start', 'd', 'stage_entered']",
        "12: task b cannot be due after itself",
        "13: task c is due after a task that is due after it",
        "14: task d is due after a task that is due after it",
    ]


def test_a_bad_duration_a_plan_to_our_own_people_or_an_unknown_key_is_refused(tmp_path: Path) -> None:
    _, errors = load(
        tmp_path,
        """\
client_plan: {every: 1 week, to: [csm]}
stages:
  - id: set-up
    name: Set-Up
  - {id: live, name: Live, end: true}
""",
    )
    assert errors == ["7: 'csm' is not a client role; expected client_contacts or one of ['client_admin']"]
    _, errors = load(tmp_path, "reminders: {before_due: soon}\nstages: [{id: s, name: S, end: true}]\n")
    assert errors and "reminders.before_due = 'soon': expected a duration like '3 business days'" in errors[0]
    _, errors = load(
        tmp_path, "informed: {every: 1 week, to: [csm]}\nstages: [{id: s, name: S, end: true}]\n"
    )
    assert errors == ["7: informed.to: unknown key"]
