"""Saying true things (issue 18, item 7): the survey's real day, no email for a stage already past,
and our people's names, given at hand-over, signing the emails."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from email.parser import BytesParser
from email.policy import default
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from tests.conftest import Harness, write_config
from tests.integration.cli_helpers import as_json, run

FRIDAY_LAUNCH = datetime(2026, 12, 4, 10, 0, tzinfo=UTC)
INTRO_BEFORE = datetime(2026, 11, 27, 14, 0, tzinfo=UTC)  # held on the Friday before the hand-over


def text(msg: EmailMessage) -> str:
    return str(msg.get_body(("plain",)).get_content()).replace("\r\n", "\n")  # type: ignore[union-attr]


def harness_with(tmp_path: Path, agent_lines: str = "") -> Harness:
    cfg = write_config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace('timezone = "Europe/London"\n', f'timezone = "Europe/London"\n{agent_lines}')
    )
    return Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))


def launch_on_friday(h: Harness) -> int:
    deal_id = h.add_deal(stage="training")
    h.meeting("launch", "Acme Radio learner launch", FRIDAY_LAUNCH, 60)
    h.run()
    h.at(FRIDAY_LAUNCH + timedelta(minutes=80))
    h.run()
    return deal_id


def survey_due(h: Harness, deal_id: int) -> str:
    [survey] = [e for e in h.show(deal_id)["emails"] if e["template"] == "survey"]
    return str(survey["due_at"])


# --- the survey's day ---------------------------------------------------------------------------
def test_after_a_friday_call_the_completion_email_names_monday_and_the_survey_goes_then(
    tmp_path: Path,
) -> None:
    h = harness_with(tmp_path)
    deal_id = launch_on_friday(h)
    [completion] = [m for m in h.sent() if "onboarding is complete" in m["Subject"]]
    body = text(completion)
    assert "On Monday 7 December we will send you a one-question survey" in body
    assert "Tomorrow" not in body and "tomorrow" not in body
    assert survey_due(h, deal_id) == "2026-12-07T10:00:00+00:00"
    h.at(datetime(2026, 12, 7, 10, 1, tzinfo=UTC))
    h.run()
    assert "survey" in h.sent_templates()


def test_before_a_holiday_the_day_named_skips_it(tmp_path: Path) -> None:
    h = harness_with(tmp_path, 'holidays = ["2026-12-07"]\n')
    deal_id = launch_on_friday(h)
    [completion] = [m for m in h.sent() if "onboarding is complete" in m["Subject"]]
    assert "On Tuesday 8 December we will send you a one-question survey" in text(completion)
    assert survey_due(h, deal_id) == "2026-12-08T10:00:00+00:00"


# --- a deal handed over past a stage ----------------------------------------------------------
def test_a_deal_handed_over_after_its_introduction_call_gets_no_scheduling_email(harness: Harness) -> None:
    harness.at(INTRO_BEFORE - timedelta(days=1))
    harness.meeting("intro", "Acme Radio introduction call", INTRO_BEFORE)  # booked by the CSM
    harness.run()
    harness.at(datetime(2026, 11, 30, 9, 0, tzinfo=UTC))  # the call was held; Sales hands over now
    deal_id = harness.add_deal()
    harness.run()
    assert harness.sent_templates() == ["recap"]
    assert not [m for m in harness.sent() if "schedule your introduction call" in m["Subject"]]
    [intro] = [e for e in harness.show(deal_id)["emails"] if e["template"] == "intro"]
    assert intro["status"] == "withdrawn" and harness.stage(deal_id) == "set-up"
    events = harness.show(deal_id)["events"]
    assert any(e["kind"] == "email_withdraw" and "left introduction-call" in e["reason"] for e in events)


def test_a_deal_handed_over_into_a_later_stage_gets_no_intro(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(cfg, "deals", "add", "--name", "Acme Radio", "--contact", "Jane Doe,jane@acme.example",
                       "--csm", "sam@example.com", "--stage", "set-up", capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert run(cfg, "run", "--once", capsys=capsys)[0] == 0
    assert as_json(cfg, capsys, "deals", "show", "1")["emails"] == []


# --- names at hand-over ---------------------------------------------------------------------
def sent_files(cfg: Path) -> list[EmailMessage]:
    folder = cfg.parent / "state" / "sent"
    return [BytesParser(policy=default).parsebytes(p.read_bytes()) for p in sorted(folder.glob("*.eml"))]


def test_names_given_on_the_command_line_sign_the_emails(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        cfg,
        "deals",
        "add",
        "--name",
        "Acme Radio",
        "--contact",
        "Jane Doe,jane@acme.example,client_admin",
        "--csm",
        "Sam Carter <sam@example.com>",
        "--role",
        "onboarding_manager=Olivia Grant <olivia@example.com>",
        capsys=capsys,
    )
    assert code == 0, err
    roles = as_json(cfg, capsys, "deals", "show", "1")["roles"]
    assert roles["csm"] == {"name": "Sam Carter", "email": "sam@example.com"}
    assert roles["onboarding_manager"] == {"name": "Olivia Grant", "email": "olivia@example.com"}
    assert run(cfg, "run", "--once", capsys=capsys)[0] == 0
    [intro] = sent_files(cfg)
    body = text(intro)
    assert "I am Sam Carter, and I will guide" in body
    assert body.rstrip().endswith("Kind regards,\nSam Carter\nCustomer Success Manager")


def test_without_a_name_the_team_signs_never_the_address(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(cfg, "deals", "add", "--name", "Acme Radio", "--contact", "Jane Doe,jane@acme.example",
                       "--csm", "sam@example.com", capsys=capsys)  # fmt: skip
    assert code == 0, err
    assert run(cfg, "run", "--once", capsys=capsys)[0] == 0
    [intro] = sent_files(cfg)
    body = text(intro)
    assert "I am your Customer Success Manager" in body
    assert body.rstrip().endswith("Kind regards,\nOnboarding Team")
    assert "\nsam\n" not in body and "I am sam" not in body


def test_names_in_the_csv_as_name_and_address_or_in_a_name_column(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv = tmp_path / "handover.csv"
    csv.write_text(
        "deal,pipeline,contact_name,contact_email,contact_role,csm,csm_name,account_manager,account_manager_name\n"
        'Acme Radio,,Jane Doe,jane@acme.example,client_admin,"Carter, Sam <sam@example.com>",,'
        "alex@example.com,Alex Reed\n"
        "Acme Radio,,Bob Roe,bob@acme.example,contact,sam@example.com,,,\n"
        "Globex,,Gil,gil@globex.example,client_admin,sam@example.com,Sam Carter,,\n",
        encoding="utf-8",
    )
    code, out, err = run(cfg, "deals", "import", str(csv), capsys=capsys)
    assert code == 0 and "imported 2 deals" in out, err
    acme = as_json(cfg, capsys, "deals", "show", "Acme Radio")
    assert acme["roles"]["csm"] == {"name": "Carter, Sam", "email": "sam@example.com"}
    assert acme["roles"]["account_manager"] == {"name": "Alex Reed", "email": "alex@example.com"}
    assert acme["attributes"] == {}  # a name column is no custom attribute
    globex = as_json(cfg, capsys, "deals", "show", "Globex")
    assert globex["roles"]["csm"] == {"name": "Sam Carter", "email": "sam@example.com"}


def test_a_name_that_cannot_be_read_is_refused_and_said(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    base = ["deals", "add", "--name", "Acme Radio", "--contact", "Jane Doe,jane@acme.example"]
    code, _, err = run(cfg, *base, "--csm", "Sam Carter sam@example.com", capsys=capsys)
    assert code == 2 and "--csm: 'Sam Carter sam@example.com': expected 'email' or 'Name <email>'" in err
    code, _, err = run(cfg, *base, "--csm", "Sam <sam@example.com", capsys=capsys)
    assert code == 2 and "expected 'email' or 'Name <email>'" in err
    code, _, err = run(cfg, *base, "--csm", "Sam\nCarter <sam@example.com>", capsys=capsys)
    assert code == 2 and "a name cannot hold line breaks" in err
    code, _, err = run(cfg, *base, "--csm", "sam@example.com", "--role", "onboarding_manager=Olivia <olivia>",
                       capsys=capsys)  # fmt: skip
    assert code == 2 and "onboarding_manager: 'olivia'" in err
    assert as_json(cfg, capsys, "deals", "list") == []
    assert not (tmp_path / "state").exists()  # refused before any I/O: not even a store was made
    csv = tmp_path / "handover.csv"
    csv.write_text(
        "deal,pipeline,contact_name,contact_email,contact_role,csm,csm_name,account_manager_name\n"
        "Acme,,Jane,jane@acme.example,client_admin,Sam Carter <sam@example.com>,Samuel Carter,\n"
        "Globex,,Gil,gil@globex.example,client_admin,sam@example.com,,Alex Reed\n"
        "Initech,,Pete,pete@initech.example,client_admin,sam@example.com,Sam Carter,\n",
        encoding="utf-8",
    )
    code, out, err = run(cfg, "deals", "import", str(csv), capsys=capsys)
    assert code == 2 and "imported 1 deals" in out
    assert f"{csv}:2: csm_name: 'Samuel Carter' differs from the name in csm ('Sam Carter')" in err
    assert f"{csv}:3: account_manager_name: 'Alex Reed' is given, but account_manager has no address" in err
