"""RACI that means what it says, as `check` sees it: one R and one A per task, approval and consult
only where they can happen. Every problem names the file, the line, the task and what was expected.

Expected line numbers are computed from the YAML each test writes, never typed in.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.cli import main
from agent.config import CONFIG_ENV, PROJECT_ROOT
from agent.outbox.render import TemplateSet
from agent.pipeline.loader import load_pipeline_file, load_pipelines

TEMPLATES = PROJECT_ROOT / "templates" / "emails"
TEMPLATE_NAMES = set(TemplateSet(TEMPLATES).names())
TASK = "      - {id: import-data, title: Import the data, R: csm, A: onboarding_manager}\n"
PIPELINE = """\
pipeline: raci-check
name: RACI check
roles:
  csm: {side: ours}
  onboarding_manager: {side: ours}
  account_manager: {side: ours}
  client_admin: {side: client}
stages:
  - id: set-up
    name: Set-Up
    tasks:
TASK
  - id: won
    name: Won
    end: true
rules:
  - id: set-up-done
    when: {stage_tasks_done: set-up}
    then: [{advance: won}]
"""


def pipeline_with(task: str) -> str:
    return PIPELINE.replace("TASK\n", task)


def line_of(text: str, needle: str) -> int:
    [line] = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    return line


def issues_of(tmp_path: Path, text: str) -> list[str]:
    path = tmp_path / "raci-check.yaml"
    path.write_text(text, encoding="utf-8")
    _, issues = load_pipeline_file(path, TEMPLATE_NAMES)
    return [str(i) for i in issues]


def test_one_responsible_and_one_accountable_role_load_cleanly(tmp_path: Path) -> None:
    assert issues_of(tmp_path, pipeline_with(TASK)) == []


@pytest.mark.parametrize(
    ("task", "needle", "message"),
    [
        (
            "      - {id: import-data, title: Import, R: [csm, onboarding_manager], A: onboarding_manager}\n",
            "R: [csm",
            "task import-data has 2 Responsible roles (csm, onboarding_manager); expected exactly one R per "
            "task (one role does the work; make the others C or I)",
        ),
        (
            "      - {id: import-data, title: Import, A: onboarding_manager}\n",
            "id: import-data",
            "task import-data has no Responsible role; expected exactly one R per task",
        ),
        (
            "      - {id: import-data, title: Import, R: csm, A: []}\n",
            "A: []",
            "task import-data has no Accountable role; expected exactly one A per task "
            "(one role approves and answers for it; make the others C or I)",
        ),
        (
            "      - {id: import-data, title: Import, R: csm, A: [onboarding_manager, account_manager]}\n",
            "A: [onboarding_manager",
            "task import-data has 2 Accountable roles (onboarding_manager, account_manager); expected exactly one A",
        ),
    ],
    ids=["two-R", "no-R", "no-A", "two-A"],
)
def test_a_task_without_exactly_one_r_and_one_a_is_an_error(
    tmp_path: Path, task: str, needle: str, message: str
) -> None:
    text = pipeline_with(task)
    [issue] = issues_of(tmp_path, text)
    assert issue.startswith(f"{tmp_path / 'raci-check.yaml'}:{line_of(text, needle)}: error: "), issue
    assert message in issue


def test_a_rule_that_creates_a_task_with_two_r_is_disabled_and_the_others_run(tmp_path: Path) -> None:
    text = pipeline_with(TASK) + (
        "  - id: add-check\n"
        "    when: {stage_entered: set-up}\n"
        "    then:\n"
        "      - {create_task: {id: check, title: Check, R: [csm, account_manager], A: onboarding_manager}}\n"
    )
    path = tmp_path / "raci-check.yaml"
    path.write_text(text, encoding="utf-8")
    pipeline, issues = load_pipeline_file(path, TEMPLATE_NAMES)
    assert [(i.line, i.rule, i.severity) for i in issues] == [
        (line_of(text, "create_task"), "add-check", "error")
    ]
    assert "task check has 2 Responsible roles" in issues[0].message
    assert pipeline is not None and [r.id for r in pipeline.rules] == ["set-up-done"]


@pytest.mark.parametrize(
    ("task", "needle", "message"),
    [
        (
            "      - {id: import-data, title: Import, R: csm, A: client_admin, approval: true}\n",
            "approval: true",
            "task import-data: approval: true needs an Accountable role of ours; client_admin is a client role",
        ),
        (
            "      - {id: import-data, title: Import, R: csm, A: onboarding_manager, consult: true}\n",
            "consult: true",
            "task import-data: consult asks the Consulted roles, and the task has none; expected C: [roles]",
        ),
        (
            "      - {id: import-data, title: Import, R: csm, A: onboarding_manager, C: [client_admin], consult: ''}\n",
            "consult: ''",
            "task import-data: consult: expected true or the question to ask",
        ),
    ],
    ids=["client-approves", "consult-nobody", "consult-empty"],
)
def test_approval_and_consult_only_where_someone_can_give_them(
    tmp_path: Path, task: str, needle: str, message: str
) -> None:
    text = pipeline_with(task)
    [issue] = issues_of(tmp_path, text)
    assert f":{line_of(text, needle)}: error: " in issue and message in issue, issue


def test_approval_and_consult_need_their_email_templates(tmp_path: Path) -> None:
    text = pipeline_with(
        "      - {id: import-data, title: Import, R: csm, A: onboarding_manager, C: [client_admin],"
        " approval: true, consult: 'Which system holds your users?'}\n"
    )
    path = tmp_path / "raci-check.yaml"
    path.write_text(text, encoding="utf-8")
    _, issues = load_pipeline_file(path, TEMPLATE_NAMES - {"task-approval", "consult"})
    assert [i.message for i in issues] == [
        "approval: true sends the email template 'task-approval', and there is none",
        "consult sends the email template 'consult', and there is none",
    ]
    _, issues = load_pipeline_file(path, TEMPLATE_NAMES)
    assert issues == []


def test_check_exits_2_and_names_the_file_the_task_and_what_was_expected(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    rules = tmp_path / "rules"
    rules.mkdir()
    text = pipeline_with(
        "      - {id: set-up-users, title: 'Customer sets up learning paths, teams and users',"
        " R: [client_admin, onboarding_manager], A: client_admin}\n"
    )
    (rules / "raci-check.yaml").write_text(text, encoding="utf-8")
    cfg = tmp_path / "agent.toml"
    cfg.write_text(f"[paths]\nstate = '{tmp_path / 'state'}'\nrules = '{rules}'\ntemplates = '{TEMPLATES}'\n")

    code = main(["--config", str(cfg), "check"])

    err = capsys.readouterr().err
    assert code == 2
    assert (
        f"{rules / 'raci-check.yaml'}:{line_of(text, 'R: [client_admin')}: error: task set-up-users has "
        "2 Responsible roles (client_admin, onboarding_manager); expected exactly one R per task" in err
    ), err


def test_the_shipped_pipelines_have_one_r_and_one_a_per_task() -> None:
    result = load_pipelines(PROJECT_ROOT / "rules", TEMPLATE_NAMES)
    assert [str(i) for i in result.issues] == []
    for pipeline in result.pipelines.values():
        for stage in pipeline.stages:
            assert all(len(t.R) == 1 and len(t.A) == 1 for t in stage.tasks), stage.id
