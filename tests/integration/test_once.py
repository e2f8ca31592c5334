"""Once means once (issue 18, item 4): the completion email once per deal and the survey once per contact,
whatever number of final-call meetings, restarts or rule reloads."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from agent.pipeline.schema import ActionDef
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import CLIENT, MONDAY, ROOT, Harness, write_config

LAUNCH_AT = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # a Tuesday
AGAIN_AT = datetime(2026, 12, 10, 14, 0, tzinfo=UTC)  # a second "launch" two days later
CONTACTS = [ContactSpec(*CLIENT, "client_admin"), ContactSpec("Bob Roe", "bob@acme-radio.example", "contact")]


def launch(h: Harness, name: str, at: datetime) -> None:
    """A final onboarding call booked, held, and the next business day passed (its surveys due)."""
    h.meeting(name, "Acme Radio learner launch", at, 60)
    h.run()
    h.at(at + timedelta(minutes=80))
    h.run()
    h.at(at + timedelta(days=1, hours=2))
    h.run()


def emails(h: Harness, deal_id: int, template: str) -> list[tuple[str, str]]:
    return [(e["to"][0], e["status"]) for e in h.show(deal_id)["emails"] if e["template"] == template]


def test_a_second_final_call_sends_no_second_completion_or_survey(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training", contacts=CONTACTS)
    launch(harness, "launch", LAUNCH_AT)
    assert harness.sent_templates() == ["completion", "survey", "survey"]
    launch(harness, "launch-2", AGAIN_AT)
    assert harness.sent_templates().count("completion") == 1
    assert harness.sent_templates().count("survey") == 2  # one to each contact, not four
    assert len(emails(harness, deal_id, "completion")) == 1
    skipped = [e["reason"] for e in harness.show(deal_id)["events"] if e["kind"] == "email_not_queued"]
    assert any(r.startswith("completion goes once per deal: email") for r in skipped), skipped
    assert sum(r.startswith("survey goes once per contact") for r in skipped) == 2, skipped


def test_a_second_final_call_after_the_deal_moved_on_does_not_move_it_back(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training", contacts=CONTACTS)
    launch(harness, "launch", LAUNCH_AT)
    assert harness.stage(deal_id) == "post-training-cs"
    harness.advance(deal_id, "post-training-sales")  # the CS tasks were done meanwhile
    launch(harness, "launch-2", AGAIN_AT)
    assert harness.stage(deal_id) == "post-training-sales"  # before: back to post-training-cs
    kept = [e["reason"] for e in harness.show(deal_id)["events"] if e["kind"] == "stage_kept"]
    assert kept == [
        "rule survey-after-final-call would move the deal back from post-training-sales to post-training-cs"
    ]


def test_once_holds_across_a_restart_and_a_reloaded_renamed_rule(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    cfg = write_config(tmp_path / "agent").read_text().replace(str(ROOT / "rules"), str(rules))
    (tmp_path / "agent" / "agent.toml").write_text(cfg)
    config = load_config(tmp_path / "agent" / "agent.toml")
    first = Harness(config, ManualClock(MONDAY))
    deal_id = first.add_deal(stage="training", contacts=CONTACTS)
    launch(first, "launch", LAUNCH_AT)
    first.agent.close()

    again = Harness(config, ManualClock(first.clock.now()))  # the daemon restarted
    standard = rules / "standard-onboarding.yaml"
    standard.write_text(standard.read_text().replace("id: survey-after-final-call", "id: final-call-held"))
    assert again.agent.reload()  # and its rules reloaded: the rule has a new id
    launch(again, "launch-2", AGAIN_AT)
    fired = [e["rule"] for e in again.show(deal_id)["events"] if e["kind"] == "rule_fired"]
    assert "final-call-held" in fired  # the renamed rule did fire on the second call
    assert again.sent_templates().count("completion") == 1
    assert again.sent_templates().count("survey") == 2
    again.agent.close()


def test_a_withdrawn_survey_goes_after_the_next_final_call_but_the_completion_does_not(
    harness: Harness,
) -> None:
    deal_id = harness.add_deal(stage="training", contacts=CONTACTS)
    harness.meeting("launch", "Acme Radio learner launch", LAUNCH_AT, 60)
    harness.run()
    harness.at(LAUNCH_AT + timedelta(minutes=80))
    harness.run()  # the completion went; the surveys wait for tomorrow
    harness.no_show(deal_id)  # the call did not really happen: the waiting surveys are withdrawn
    harness.run()
    assert [s for _, s in emails(harness, deal_id, "survey")] == ["withdrawn", "withdrawn"]
    launch(harness, "launch-2", AGAIN_AT)  # booked again and held
    assert emails(harness, deal_id, "completion") == [(CLIENT[1], "sent")]  # it went already: once
    surveys = emails(harness, deal_id, "survey")
    assert sorted(surveys) == sorted(
        [(CLIENT[1], "withdrawn"), ("bob@acme-radio.example", "withdrawn")]
        + [(CLIENT[1], "sent"), ("bob@acme-radio.example", "sent")]
    )


def test_a_contact_added_after_the_survey_went_gets_it_at_the_next_final_call_and_only_they(
    harness: Harness,
) -> None:
    deal_id = harness.add_deal(stage="training", contacts=CONTACTS[:1])
    launch(harness, "launch", LAUNCH_AT)
    with harness.agent.sessions.begin() as s:  # a colleague joins the client's side
        Repo(s).add(
            m.Contact(deal_id=deal_id, name="Bob Roe", email="bob@acme-radio.example", role="contact")
        )
    launch(harness, "launch-2", AGAIN_AT)
    assert sorted(emails(harness, deal_id, "survey")) == [
        ("bob@acme-radio.example", "sent"),
        (CLIENT[1], "sent"),
    ]


@pytest.mark.parametrize(
    ("action", "error"),
    [
        ({"send": "survey", "to": ["client_contacts"], "once": "contact"}, "once: contact needs each: true"),
        ({"advance": "won", "once": "deal"}, "once and unless_replied only go with send"),
        ({"send": "completion", "once": "forever"}, "'deal' or 'contact'"),
    ],
)
def test_once_is_checked_where_the_rule_is_read(action: dict[str, object], error: str) -> None:
    with pytest.raises(ValidationError, match=error):
        ActionDef.model_validate(action)
