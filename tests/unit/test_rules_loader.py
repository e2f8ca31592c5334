"""agent.pipeline.loader: the shipped pipelines, and broken copies reported by file, line and rule id.

Expected line numbers are computed from the YAML each test writes, never typed in.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from agent.cli import main
from agent.config import CONFIG_ENV, PROJECT_ROOT
from agent.outbox.render import TemplateSet
from agent.pipeline.loader import Issue, LoadResult, load_pipeline_file, load_pipelines

RULES = PROJECT_ROOT / "rules"
TEMPLATES = PROJECT_ROOT / "templates" / "emails"
TEMPLATE_NAMES = ["intro", "recap", "completion", "survey"]


def line_of(text: str, needle: str, *, last: bool = False) -> int:
    """1-based number of the line of `text` that contains `needle` (the only one, or the last)."""
    hits = [n for n, line in enumerate(text.splitlines(), start=1) if needle in line]
    assert hits, f"{needle!r} is not in the text"
    assert last or len(hits) == 1, f"{needle!r} is on lines {hits}"
    return hits[-1]


# --- the shipped pipelines --------------------------------------------------------------------
SHIPPED = {
    "standard-onboarding": [
        "customer-brief",
        "introduction-call",
        "set-up",
        "training",
        "post-training-cs",
        "post-training-sales",
        "won",
    ],
    "project-onboarding": [
        "kick-off",
        "business-discovery",
        "integration",
        "configuration",
        "training-uat",
        "live",
    ],
    "hybrid-onboarding": ["account-assignment", "onboarding", "adoption", "onboarded"],
    "learning-platform-onboarding": [
        "introduction",
        "learning-paths",
        "set-up",
        "launch",
        "close",
        "onboarded",
    ],
}


@pytest.fixture(scope="module")
def shipped() -> LoadResult:
    return load_pipelines(RULES, TemplateSet(TEMPLATES).names())


def test_shipped_rules_load_without_any_issue(shipped: LoadResult) -> None:
    assert [str(i) for i in shipped.issues] == []
    assert sorted(shipped.pipelines) == sorted(SHIPPED)


@pytest.mark.parametrize("pipeline_id", sorted(SHIPPED))
def test_shipped_pipeline_stages_and_rules(shipped: LoadResult, pipeline_id: str) -> None:
    pipeline = shipped.pipelines[pipeline_id]
    path = RULES / f"{pipeline_id}.yaml"
    assert pipeline.file == str(path)
    assert [s.id for s in pipeline.stages] == SHIPPED[pipeline_id]
    assert pipeline.stages[-1].end is True
    assert [s.id for s in pipeline.stages if s.end] == [SHIPPED[pipeline_id][-1]]
    # Every rule written in the file is loaded, in order, and enabled.
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert [r.id for r in pipeline.rules] == [r["id"] for r in raw["rules"]]
    assert pipeline.rules and all(r.enabled for r in pipeline.rules)
    # Every task (its plays' too) has exactly one R and one A, and they are roles of the pipeline.
    for stage in pipeline.stages:
        for task in stage.all_tasks:
            assert len(task.R) == 1 and len(task.A) == 1, task.id
            assert {*task.R, *task.A, *task.C, *task.I} <= set(pipeline.head.roles), task.id


def test_standard_pipeline_sends_the_documented_templates(shipped: LoadResult) -> None:
    pipeline = shipped.pipelines["standard-onboarding"]
    sent = {a.send for r in pipeline.rules for a in r.then if a.send}
    sent |= {a.send for s in pipeline.stages for a in s.on_enter if a.send}
    assert {"intro", "recap", "completion", "survey"} <= sent
    final = next(r for r in pipeline.rules if r.id == "survey-after-final-call")
    assert final.when.kind == "meeting_completed"
    assert final.when.value == ["learner-launch"]
    survey = next(a for a in final.then if a.send == "survey")
    assert str(survey.after) == "1 business day"


# --- a small valid pipeline, then broken copies of it -----------------------------------------
HEAD = """\
# A small pipeline for the tests.
pipeline: test-pipeline
name: Test pipeline
roles:
  csm: {side: ours, title: Customer Success Manager}
  onboarding_manager: {side: ours}
  client_admin: {side: client}
stages:
  - id: first
    name: First
    meetings:
      intro-call: {title: ['intro']}
    tasks:
      - {id: do-it, title: Do it, R: csm, A: onboarding_manager}
  - id: done
    name: Done
    end: true
"""

GOOD_RULES = """\
rules:
  - id: good-one
    when: {meeting_completed: intro-call}
    then:
      - {send: recap, to: [client_contacts], cc: [csm]}
      - {advance: done}
  - id: good-two
    when: {in_stage_for: 14 days}
    then:
      - {notify: [accountable]}
"""


def write(folder: Path, text: str, name: str = "test-pipeline.yaml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_base_pipeline_is_valid(tmp_path: Path) -> None:
    path = write(tmp_path, HEAD + GOOD_RULES)
    pipeline, issues = load_pipeline_file(path, set(TEMPLATE_NAMES))
    assert issues == []
    assert pipeline is not None
    assert pipeline.id == "test-pipeline"
    assert [r.id for r in pipeline.rules] == ["good-one", "good-two"]


BAD_ADVANCE = """\
  - id: bad-advance
    when: {in_stage_for: 3 days}
    then:
      - {notify: [csm]}
      - {advance: nowhere}
"""

BROKEN_RULES = [
    pytest.param(
        BAD_ADVANCE,
        "bad-advance",
        "advance: nowhere",
        "unknown stage 'nowhere'",
        id="unknown-stage-in-advance",
    ),
    pytest.param(
        """\
  - id: bad-duration
    when:
      in_stage_for: 3 fortnights
    then:
      - {advance: done}
""",
        "bad-duration",
        "3 fortnights",
        "expected a duration like",
        id="bad-duration",
    ),
    pytest.param(
        """\
  - id: bad-after
    when: {meeting_completed: intro-call}
    then:
      - {advance: done}
      - {send: recap, after: soon}
""",
        "bad-after",
        "after: soon",
        "'soon'",
        id="bad-duration-in-after",
    ),
    pytest.param(
        """\
  - id: bad-trigger
    when:
      meeting_finished: intro-call
    then:
      - {advance: done}
""",
        "bad-trigger",
        "meeting_finished",
        "when.meeting_finished: unknown key",
        id="unknown-trigger-key",
    ),
    pytest.param(
        """\
  - id: two-triggers
    description: Two triggers in one when.
    when: {deal_created: true, csat_received: true}
    then:
      - {advance: done}
""",
        "two-triggers",
        "deal_created: true, csat_received",
        "'when' needs exactly one trigger",
        id="two-triggers",
    ),
    pytest.param(
        """\
  - id: bad-template
    when: {meeting_completed: intro-call}
    then:
      - {advance: done}
      - {send: no-such-template, to: [client_contacts]}
""",
        "bad-template",
        "no-such-template",
        "no email template 'no-such-template'",
        id="unknown-template",
    ),
    pytest.param(
        """\
  - id: bad-recipient
    when: {meeting_completed: intro-call}
    then:
      - send: recap
        to: [client_contacts]
        cc: [csm, nobody_role]
""",
        "bad-recipient",
        "nobody_role",
        "unknown recipient 'nobody_role'",
        id="unknown-recipient-role",
    ),
    pytest.param(
        """\
  - id: bad-meeting
    when:
      meeting_completed: board-meeting
    then:
      - {advance: done}
""",
        "bad-meeting",
        "board-meeting",
        "unknown meeting type 'board-meeting'",
        id="unknown-meeting-type",
    ),
    pytest.param(
        """\
  - id: bad-severity
    when: {issue_reported: [urgentish]}
    then:
      - {chat: deal, message: an issue}
""",
        "bad-severity",
        "urgentish",
        "unknown severity 'urgentish'; expected one of ['any', 'critical', 'high', 'low', 'medium']",
        id="unknown-severity",
    ),
    pytest.param(
        """\
  - id: bad-approver
    when: {deal_created: true}
    then:
      - {send: recap, approved_by: client_admin}
""",
        "bad-approver",
        "approved_by: client_admin",
        "approved_by 'client_admin': expected a role of ours with a department",
        id="approver-without-department",
    ),
    pytest.param(
        """\
  - id: bad-invite
    when: {deal_created: true}
    then:
      - {open_channel: escalation, invite: [csm, fmc_boss]}
""",
        "bad-invite",
        "fmc_boss",
        "unknown role 'fmc_boss'",
        id="unknown-invited-role",
    ),
    pytest.param(
        """\
  - id: stray-invite
    when: {deal_created: true}
    then:
      - {chat: deal, invite: [csm]}
""",
        "stray-invite",
        "invite: [csm]",
        "invite only goes with open_channel",
        id="invite-without-open-channel",
    ),
    pytest.param(
        """\
  - id: bad-path
    when: {became_hybrid: bought-everything}
    then:
      - {chat: deal}
""",
        "bad-path",
        "bought-everything",
        "unknown way of becoming hybrid 'bought-everything'",
        id="unknown-hybrid-path",
    ),
    pytest.param(
        """\
  - id: bad-kind
    when: {issue_reported: any}
    if: {issue_kind: [integrations]}
    then:
      - {chat: deal}
""",
        "bad-kind",
        "integrations",
        "unknown issue kind 'integrations'; expected one of ['bug', 'inquiry', 'integration'",
        id="unknown-issue-kind",
    ),
]


@pytest.mark.parametrize(("rule_yaml", "rule_id", "needle", "message"), BROKEN_RULES)
def test_broken_rule_is_reported_and_disabled_the_rest_load(
    tmp_path: Path, rule_yaml: str, rule_id: str, needle: str, message: str
) -> None:
    text = HEAD + GOOD_RULES + rule_yaml
    path = write(tmp_path, text)

    result = load_pipelines(tmp_path, TEMPLATE_NAMES)

    assert len(result.errors) == 1, [str(i) for i in result.errors]
    issue = result.errors[0]
    assert (issue.file, issue.line, issue.rule) == (str(path), line_of(text, needle), rule_id)
    assert message in issue.message
    assert str(issue).startswith(f"{path}:{issue.line}: error: rule {rule_id}: ")
    # The pipeline still loads; the broken rule is disabled, the others run.
    pipeline = result.pipelines["test-pipeline"]
    assert [r.id for r in pipeline.rules] == ["good-one", "good-two"]


def test_unknown_template_is_only_checked_when_template_names_are_given(tmp_path: Path) -> None:
    rule = "  - id: later\n    when: {csat_received: true}\n    then:\n      - {send: thank-you}\n"
    write(tmp_path, HEAD + GOOD_RULES + rule)
    assert load_pipelines(tmp_path).issues == []
    issues = load_pipelines(tmp_path, TEMPLATE_NAMES).errors
    assert [(i.rule, "no email template 'thank-you'" in i.message) for i in issues] == [("later", True)]


def test_duplicate_rule_id_keeps_the_first(tmp_path: Path) -> None:
    dup = "  - id: good-one\n    when: {csat_received: true}\n    then:\n      - {advance: done}\n"
    text = HEAD + GOOD_RULES + dup
    path = write(tmp_path, text)

    result = load_pipelines(tmp_path, TEMPLATE_NAMES)

    assert [(i.file, i.line, i.rule) for i in result.errors] == [
        (str(path), line_of(text, "- id: good-one", last=True), "good-one")
    ]
    assert "duplicate rule id 'good-one'" in result.errors[0].message
    pipeline = result.pipelines["test-pipeline"]
    assert [r.id for r in pipeline.rules] == ["good-one", "good-two"]
    assert pipeline.rules[0].when.kind == "meeting_completed"  # the first one, not the duplicate


def test_disabled_rule_is_not_loaded_and_not_an_error(tmp_path: Path) -> None:
    off = (
        "  - id: switched-off\n"
        "    enabled: false\n"
        "    when: {csat_received: true}\n"
        "    then:\n"
        "      - {advance: done}\n"
    )
    write(tmp_path, HEAD + GOOD_RULES + off)
    result = load_pipelines(tmp_path, TEMPLATE_NAMES)
    assert result.issues == []
    assert [r.id for r in result.pipelines["test-pipeline"].rules] == ["good-one", "good-two"]


def test_task_with_unknown_raci_role_makes_the_pipeline_unusable(tmp_path: Path) -> None:
    text = (HEAD + GOOD_RULES).replace(
        "- {id: do-it, title: Do it, R: csm, A: onboarding_manager}",
        "- {id: do-it, title: Do it, R: csm, A: ghost_role}",
    )
    path = write(tmp_path, text)

    result = load_pipelines(tmp_path, TEMPLATE_NAMES)

    assert "test-pipeline" not in result.pipelines
    assert [(i.file, i.line, i.rule, i.severity) for i in result.errors] == [
        (str(path), line_of(text, "A: ghost_role"), None, "error")
    ]
    assert "unknown role 'ghost_role'" in result.errors[0].message


def test_task_with_two_responsible_roles_is_an_error(tmp_path: Path) -> None:
    # RACI: one role does the work; two are each other's excuse (tests/unit/test_raci_validation.py)
    text = (HEAD + GOOD_RULES).replace(
        "- {id: do-it, title: Do it, R: csm, A: onboarding_manager}",
        "- {id: do-it, title: Do it, R: [csm, onboarding_manager], A: onboarding_manager}",
    )
    path = write(tmp_path, text)

    result = load_pipelines(tmp_path, TEMPLATE_NAMES)

    assert [(i.file, i.line, i.rule, i.severity) for i in result.issues] == [
        (str(path), line_of(text, "R: [csm, onboarding_manager]"), None, "error")
    ]
    assert "task do-it has 2 Responsible roles (csm, onboarding_manager)" in result.issues[0].message
    assert "test-pipeline" not in result.pipelines


def test_missing_end_stage_is_a_warning(tmp_path: Path) -> None:
    text = (HEAD + GOOD_RULES).replace("    end: true\n", "")
    path = write(tmp_path, text)

    result = load_pipelines(tmp_path, TEMPLATE_NAMES)

    assert result.errors == []
    assert [(i.file, i.line, i.severity) for i in result.issues] == [
        (str(path), line_of(text, "- id: first"), "warning")
    ]
    assert "end: true" in result.issues[0].message
    assert [r.id for r in result.pipelines["test-pipeline"].rules] == ["good-one", "good-two"]


# --- plays (seeds/002's SuccessPlays) --------------------------------------------------------
PLAYED = HEAD.replace(
    """    tasks:
      - {id: do-it, title: Do it, R: csm, A: onboarding_manager}
""",
    """    tasks:
      - {id: do-it, title: Do it, R: csm, A: onboarding_manager}
    plays:
      - id: handover
        name: Internal Handover
        tasks:
          - {id: meet, title: Meet Sales, description: The handover meeting, R: csm, A: onboarding_manager}
          - {id: record, title: Update the account record, R: csm, A: onboarding_manager}
        on_complete:
          - {advance: done}
""",
)


def test_a_plays_tasks_are_its_stages_and_its_on_complete_is_checked_like_a_rules_then(
    tmp_path: Path,
) -> None:
    pipeline, issues = load_pipeline_file(write(tmp_path, PLAYED + GOOD_RULES), set(TEMPLATE_NAMES))
    assert issues == []
    assert pipeline is not None
    first = pipeline.stage("first")
    assert [t.id for t in first.all_tasks] == ["do-it", "meet", "record"]  # all created on entering it
    play = pipeline.play_of("record")
    assert play is not None and (play.id, play.name) == ("handover", "Internal Handover")
    assert pipeline.play_of("do-it") is None
    meet = pipeline.task_def("meet")
    assert meet is not None and meet.description == "The handover meeting"


BROKEN_PLAYS = [
    pytest.param(
        "{id: record, title: Update the account record, R: csm, A: onboarding_manager}",
        "{id: record, title: Update the account record, R: [csm, onboarding_manager], A: csm}",
        "task record has 2 Responsible roles",
        id="two-responsible-roles",
    ),
    pytest.param(
        "on_complete:\n          - {advance: done}",
        "on_complete:\n          - {advance: nowhere}",
        "unknown stage 'nowhere'",
        id="unknown-stage",
    ),
    pytest.param(
        "{id: record, title: Update the account record,",
        "{id: do-it, title: Update the account record,",
        "duplicate task id 'do-it'",
        id="a-task-of-the-stage-again",
    ),
    pytest.param(
        "        on_complete:\n",
        "        on_complete:\n          - {send: nothing-such}\n",
        "no email template 'nothing-such'",
        id="unknown-template",
    ),
]


@pytest.mark.parametrize(("good", "bad", "expected"), BROKEN_PLAYS)
def test_a_broken_play_is_named_with_its_line_and_makes_the_file_unusable(
    tmp_path: Path, good: str, bad: str, expected: str
) -> None:
    text = (PLAYED + GOOD_RULES).replace(good, bad)
    path = write(tmp_path, text)
    result = load_pipelines(tmp_path, TEMPLATE_NAMES)
    assert "test-pipeline" not in result.pipelines  # a play is the pipeline's head, like its stages
    [error] = result.errors
    assert (error.file, error.line) == (str(path), line_of(text, bad.splitlines()[-1].strip()))
    assert expected in error.message


def test_a_play_needs_tasks_and_an_id_of_its_own(tmp_path: Path) -> None:
    start, end = PLAYED.index("        tasks:\n          - {id: meet"), PLAYED.index("        on_complete:")
    empty = PLAYED[:start] + "        tasks: []\n" + PLAYED[end:]
    write(tmp_path, empty + GOOD_RULES)
    result = load_pipelines(tmp_path, TEMPLATE_NAMES)
    assert "test-pipeline" not in result.pipelines
    [error] = result.errors
    assert error.line == line_of(empty, "tasks: []")
    assert error.message.startswith("stages.0.plays.0.tasks = []: List should have at least 1 item")
    twice = PLAYED.replace(
        "        on_complete:\n          - {advance: done}\n",
        "        on_complete:\n          - {advance: done}\n"
        "      - id: handover\n        name: Again\n        tasks:\n"
        "          - {id: other, title: Other, R: csm, A: onboarding_manager}\n",
    )
    path = write(tmp_path / "twice", twice + GOOD_RULES)
    result = load_pipelines(tmp_path / "twice", TEMPLATE_NAMES)
    [error] = result.errors
    assert (error.line, error.message) == (
        line_of(twice, "- id: handover", last=True),
        "duplicate play id 'handover' (play ids are unique per pipeline)",
    )
    assert error.file == str(path)


def test_yaml_syntax_error_reports_the_line(tmp_path: Path) -> None:
    text = (HEAD + GOOD_RULES).replace("    name: Done\n", "   name: Done\n")  # one space short
    path = write(tmp_path, text)

    result = load_pipelines(tmp_path, TEMPLATE_NAMES)

    assert result.pipelines == {}
    assert [(i.file, i.line, i.rule) for i in result.errors] == [
        (str(path), line_of(text, "   name: Done"), None)
    ]
    assert result.errors[0].message.startswith("not valid YAML")


@pytest.mark.parametrize(
    "text", ["- just\n- a list\n", "just a string\n", ""], ids=["list", "scalar", "empty"]
)
def test_file_that_is_not_a_mapping(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, text)
    result = load_pipelines(tmp_path, TEMPLATE_NAMES)
    assert result.pipelines == {}
    assert [(i.file, i.line, i.rule) for i in result.errors] == [(str(path), 1, None)]
    assert "expected a mapping" in result.errors[0].message


def test_head_error_names_the_key_and_line(tmp_path: Path) -> None:
    text = (HEAD + GOOD_RULES).replace("  client_admin: {side: client}", "  client_admin: {side: theirs}")
    path = write(tmp_path, text)
    result = load_pipelines(tmp_path, TEMPLATE_NAMES)
    assert result.pipelines == {}
    assert [(i.file, i.line, i.rule) for i in result.errors] == [
        (str(path), line_of(text, "side: theirs"), None)
    ]
    assert "roles.client_admin.side = 'theirs'" in result.errors[0].message


def test_one_broken_file_does_not_stop_the_others(tmp_path: Path) -> None:
    write(tmp_path, "pipeline: [oops\n", name="a-broken.yaml")
    for name in ("standard-onboarding.yaml", "project-onboarding.yaml"):
        (tmp_path / name).write_text((RULES / name).read_text(encoding="utf-8"), encoding="utf-8")
    result = load_pipelines(tmp_path, TemplateSet(TEMPLATES).names())
    assert sorted(result.pipelines) == ["project-onboarding", "standard-onboarding"]
    assert [i.file for i in result.errors] == [str(tmp_path / "a-broken.yaml")]


def test_same_pipeline_id_in_two_files(tmp_path: Path) -> None:
    first = write(tmp_path, HEAD + GOOD_RULES, name="a.yaml")
    second = write(tmp_path, HEAD + GOOD_RULES, name="b.yaml")
    result = load_pipelines(tmp_path, TEMPLATE_NAMES)
    assert result.pipelines["test-pipeline"].file == str(first)
    assert [(i.file, i.line) for i in result.errors] == [(str(second), 1)]
    assert f"also used by {first}" in result.errors[0].message


def test_empty_rules_folder_is_an_error(tmp_path: Path) -> None:
    result = load_pipelines(tmp_path, TEMPLATE_NAMES)
    assert result.errors == [Issue(str(tmp_path), None, None, "no pipeline files (*.yaml) in this folder")]


# --- python -m agent check --------------------------------------------------------------------
def write_config(tmp_path: Path, rules: Path, templates: Path = TEMPLATES) -> Path:
    path = tmp_path / "agent.toml"
    path.write_text(
        f"[paths]\nstate = '{tmp_path / 'state'}'\nrules = '{rules}'\ntemplates = '{templates}'\n",
        encoding="utf-8",
    )
    return path


@pytest.fixture
def in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    return tmp_path


def test_check_fails_on_a_broken_rules_file(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = in_tmp / "rules"
    rules.mkdir()
    (rules / "standard-onboarding.yaml").write_text(
        (RULES / "standard-onboarding.yaml").read_text(encoding="utf-8"), encoding="utf-8"
    )
    text = HEAD + GOOD_RULES + BAD_ADVANCE
    broken = write(rules, text)
    cfg = write_config(in_tmp, rules)

    code = main(["--config", str(cfg), "check"])

    err = capsys.readouterr().err
    assert code == 2
    assert f"{broken}:{line_of(text, 'advance: nowhere')}: error: rule bad-advance: " in err, err
    assert "unknown stage 'nowhere'" in err
    assert "standard-onboarding.yaml" not in err  # the good file is not blamed


def test_check_passes_with_only_a_warning(in_tmp: Path, capsys: pytest.CaptureFixture[str]) -> None:
    text = (HEAD + GOOD_RULES).replace("    end: true\n", "")
    path = write(in_tmp / "rules", text)
    cfg = write_config(in_tmp, in_tmp / "rules")

    code = main(["--config", str(cfg), "check"])

    out = capsys.readouterr().out
    assert code == 0
    assert f"{path}:{line_of(text, '- id: first')}: warning: " in out
    assert "1 pipelines (test-pipeline), 2 rules" in out


def test_check_passes_on_the_shipped_rules_and_templates(
    in_tmp: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = write_config(in_tmp, RULES)

    code = main(["--config", str(cfg), "check"])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert captured.err == ""
    assert "ok: config" in captured.out
    shipped = "hybrid-onboarding, learning-platform-onboarding, project-onboarding, standard-onboarding"
    assert f"4 pipelines ({shipped})" in captured.out


def test_a_role_of_an_undeclared_department_is_an_error(tmp_path: Path) -> None:
    text = HEAD.replace(
        "  onboarding_manager: {side: ours}", "  onboarding_manager: {side: ours, department: fmc}"
    ).replace("roles:", "departments:\n  cs: {name: Customer Success}\nroles:")
    path = write(tmp_path, text + GOOD_RULES)
    errors = load_pipelines(tmp_path, TEMPLATE_NAMES).errors
    assert [(e.file, e.message) for e in errors] == [
        (str(path), "unknown department 'fmc'; expected one of ['cs']")
    ]
