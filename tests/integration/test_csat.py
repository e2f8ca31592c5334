"""CSAT done right (issue 18, item 3): a score only from a reply to the survey, per contact, on the
survey's scale, with the client's words and comment kept; the scorecard per contact and per deal."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest
from alembic import command
from sqlalchemy import text

from agent.dashboard import deal_page, scorecard_page
from agent.dashboard.deal_words import Words
from agent.deals import ContactSpec
from agent.store.db import alembic_config, make_engine, migrate, open_store
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, Harness
from tests.integration.cli_helpers import run

LAUNCH_AT = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # a Tuesday
SURVEYS_DUE = datetime(2026, 12, 9, 10, 1, tzinfo=UTC)  # one business day later at 10:00
BOB = ("Bob Roe", "bob@acme-radio.example")
AGENT = "Onboarding"


def surveyed(h: Harness, *contacts: tuple[str, str]) -> int:
    """A deal taken through its final call until the survey has gone to each contact."""
    people = [ContactSpec(*c, "client_admin") for c in contacts or (CLIENT,)]
    deal_id = h.add_deal(stage="training", contacts=people)
    h.meeting("launch", "Acme Radio learner launch", LAUNCH_AT, 60)
    h.run()
    h.at(LAUNCH_AT + timedelta(minutes=80))
    h.run()
    h.at(SURVEYS_DUE)
    h.run()
    assert h.sent_templates().count("survey") == len(people)
    return deal_id


def survey_to(h: Harness, email: str) -> EmailMessage:
    return next(
        m
        for m in h.sent()
        if m["Subject"].startswith("One question") and m["To"].addresses[0].addr_spec == email
    )


def answer(
    h: Harness, who: tuple[str, str], body: str, to: EmailMessage | None = None, deal_id: int = 1
) -> None:
    """A reply in the thread of `to` (an email the agent sent), or, without it, only to the reply address."""
    headers = {"In-Reply-To": to["Message-ID"], "References": to["Message-ID"]} if to is not None else {}
    subject = f"Re: {to['Subject']}" if to is not None else "Re: One question about your onboarding"
    # "Reply" goes to the Reply-To: the deal's address and the CSM (docs/mail.md, "Client replies")
    reply_to = [(a.display_name, a.addr_spec) for a in to["Reply-To"].addresses] if to is not None else []
    h.mail(who, reply_to or [(AGENT, h.reply_address(deal_id))], subject, body, headers=headers)
    h.run()


def answers(h: Harness, deal_id: int) -> list[tuple[str, int, int, str, str, bool]]:
    with h.agent.sessions.begin() as s:
        return [
            (a.contact_email, a.score, a.scale_max, a.original, a.comment, a.normalised)
            for a in Repo(s).csat_answers_of(deal_id)
        ]


def test_a_sentence_that_starts_with_a_number_is_no_score(harness: Harness) -> None:
    deal_id = surveyed(harness)
    answer(harness, CLIENT, "3 users still cannot log in. Can you help?", survey_to(harness, CLIENT[1]))
    show = harness.show(deal_id)
    assert show["csat"] is None
    assert show["stage"] == "post-training-cs"  # the survey task is still open: the deal waits
    assert [m["subject"] for m in show["messages"]][-1].startswith("Re: One question")  # logged all the same
    assert answers(harness, deal_id) == []


def test_a_score_in_the_thread_of_another_email_is_not_a_survey_answer(harness: Harness) -> None:
    deal_id = surveyed(harness)
    completion = next(m for m in harness.sent() if "complete" in m["Subject"])
    answer(harness, CLIENT, "5 - thanks, and one more question about the invoice", completion)
    assert harness.show(deal_id)["csat"] is None and answers(harness, deal_id) == []


def test_a_score_before_any_survey_is_not_taken(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="training")
    harness.run()
    answer(harness, CLIENT, "5")
    assert harness.show(deal_id)["csat"] is None and answers(harness, deal_id) == []


def test_a_score_in_the_surveys_thread_is_stored_with_its_scale_and_comment(harness: Harness) -> None:
    deal_id = surveyed(harness)
    answer(
        harness,
        CLIENT,
        "4 - good, but the import was slow\n\n> How satisfied are you?",
        survey_to(harness, CLIENT[1]),
    )
    assert answers(harness, deal_id) == [(CLIENT[1], 4, 5, "4", "good, but the import was slow", False)]
    show = harness.show(deal_id)
    assert show["csat"] == 4 and show["stage"] == "post-training-sales"
    [recorded] = [e for e in show["events"] if e["kind"] == "csat_recorded"]
    assert recorded["reason"] == f"{CLIENT[1]} rated onboarding 4 on 1-5"


def test_an_answer_through_the_deal_token_counts_when_the_thread_was_lost(harness: Harness) -> None:
    deal_id = surveyed(harness)
    answer(harness, ("Someone Else", "ceo@acme-radio.example"), "5")  # no survey went to them
    assert harness.show(deal_id)["csat"] is None and answers(harness, deal_id) == []
    answer(harness, CLIENT, "5 - thank you!")  # Jane's reply, its In-Reply-To lost on the way
    assert answers(harness, deal_id) == [(CLIENT[1], 5, 5, "5", "thank you!", False)]


def test_an_answer_on_its_own_scale_is_brought_to_the_surveys_with_the_original_kept(
    harness: Harness,
) -> None:
    deal_id = surveyed(harness)
    answer(harness, CLIENT, "9/10, great team", survey_to(harness, CLIENT[1]))
    assert harness.show(deal_id)["csat"] == 5  # not 9 on a survey that asks for 1 to 5
    assert answers(harness, deal_id) == [(CLIENT[1], 5, 5, "9/10", "great team", True)]


def test_a_bare_number_outside_the_scale_is_asked_back_once_then_a_person_is_told(harness: Harness) -> None:
    deal_id = surveyed(harness)
    before = len(harness.sent())
    answer(harness, CLIENT, "9", survey_to(harness, CLIENT[1]))
    assert harness.show(deal_id)["csat"] is None and answers(harness, deal_id) == []
    [asked] = harness.sent()[before:]
    assert asked["To"].addresses[0].addr_spec == CLIENT[1]
    text = asked.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert '"9"' in text and "one number from 1 to 5" in text
    answer(harness, CLIENT, "9!", asked)  # again: the client is not asked twice, the CSM hears of it
    [notice] = harness.sent()[before + 1 :]
    assert notice["To"].addresses[0].addr_spec == CSM[1]
    assert "'9'" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    answer(harness, CLIENT, "4", asked)  # the answer to the question asked back
    assert answers(harness, deal_id) == [(CLIENT[1], 4, 5, "4", "", False)]


def test_each_contact_answers_for_themselves_and_a_later_answer_replaces_their_own(harness: Harness) -> None:
    deal_id = surveyed(harness, CLIENT, BOB)
    answer(harness, CLIENT, "4", survey_to(harness, CLIENT[1]))
    answer(harness, BOB, "5 stars\nThe trainer was excellent.", survey_to(harness, BOB[1]))
    answer(harness, CLIENT, "5, actually - the import got sorted", survey_to(harness, CLIENT[1]))
    assert sorted(answers(harness, deal_id)) == [
        (BOB[1], 5, 5, "5 stars", "The trainer was excellent.", False),
        (CLIENT[1], 5, 5, "5", "actually - the import got sorted", False),
    ]
    events = [e["reason"] for e in harness.show(deal_id)["events"] if e["kind"] == "csat_recorded"]
    assert events[-1] == f"{CLIENT[1]} rated onboarding 5 on 1-5, replacing 4"


def test_the_scorecard_reports_per_contact_and_per_deal(
    harness: Harness, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    deal_id = surveyed(harness, CLIENT, BOB)
    answer(harness, CLIENT, "3 - the import was slow", survey_to(harness, CLIENT[1]))
    answer(harness, BOB, "Nine out of ten", survey_to(harness, BOB[1]))
    cfg = tmp_path / "agent.toml"
    since, until = "--since", "2026-11-01"
    code, out, err = run(cfg, "report", "--json", since, until, "--until", "2027-01-01", capsys=capsys)
    assert code == 0, err
    card = json.loads(out)
    everything = card["rows"][0]
    assert everything["csat"] == {"average": 4.0, "answers": 2, "distribution": {"3": 1, "5": 1}}
    assert everything["csat_by_deal"] == {"deals": 1, "average": 4.0}
    [deal] = card["csat_answers"]
    assert (deal["id"], deal["average"]) == (deal_id, 4.0)
    by_contact = {a["contact"]: a for a in deal["answers"]}
    assert by_contact[CLIENT[1]]["comment"] == "the import was slow"
    assert (by_contact[BOB[1]]["score"], by_contact[BOB[1]]["scale"]) == (5, "1-5")
    assert (by_contact[BOB[1]]["original"], by_contact[BOB[1]]["normalised"]) == ("Nine out of ten", True)
    code, table, err = run(cfg, "report", since, until, "--until", "2027-01-01", capsys=capsys)
    assert "CSAT by deal (each contact's answer):\n  Acme Radio: 4.0" in table
    assert f"    {BOB[1]}: 5 of 1-5 (wrote 'Nine out of ten')" in table
    assert f"    {CLIENT[1]}: 3 of 1-5 - the import was slow" in table
    code, csv_out, err = run(cfg, "report", "--csv", since, until, "--until", "2027-01-01", capsys=capsys)
    header, first = csv_out.splitlines()[:2]
    assert header.endswith("csat_average,csat_answers,csat_deals,csat_deal_average") and first.endswith(
        "4.0,2,1,4.0"
    )
    with harness.agent.sessions.begin() as s:
        repo = Repo(s)
        deal = repo.deal(deal_id)
        assert deal is not None
        words = Words.of(deal, None, ZoneInfo("UTC"), SURVEYS_DUE)
        assert deal_page.csat(repo, deal, words) == {"figure": "4.0", "who": f"{CLIENT[0]} 3/5, {BOB[0]} 5/5"}
        assert [score for _, score in scorecard_page.csat_points(repo, LAUNCH_AT)] == [3, 5]


@pytest.mark.parametrize("backend", ["sqlite", pytest.param("postgresql", marks=pytest.mark.integration)])
def test_upgrading_carries_each_deals_last_answer_over_when_the_survey_allows_it(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = (
        f"sqlite:///{tmp_path / 'old.db'}"
        if backend == "sqlite"
        else request.getfixturevalue("postgres").create("csat_upgrade")
    )
    command.upgrade(alembic_config(url), "0006")  # a database from before per-contact answers
    engine = make_engine(url)
    with engine.begin() as conn:
        for deal_id, name, token in ((1, "Acme Radio", "ABCDEFGH"), (2, "Acme TV", "HGFEDCBA")):
            conn.execute(
                text(
                    "INSERT INTO deals (id, name, name_key, pipeline, stage, team, token, timezone, products, "
                    "attributes, created_at) VALUES (:id, :name, :name, 'standard-onboarding', 'won', '', :token, "
                    "'UTC', '[]', '{}', '2026-11-30 09:00:00+00')"
                ),
                {"id": deal_id, "name": name, "token": token},
            )
        lines = [
            (1, "2026-12-09 11:00:00+00", "jane@acme.example rated onboarding 3", '{"score": 3}'),
            (1, "2026-12-09 12:00:00+00", "jane@acme.example rated onboarding 4", '{"score": 4}'),
            (2, "2026-12-09 13:00:00+00", "tom@acme.example rated onboarding 9", '{"score": 9}'),  # "9/10"
        ]
        for deal_id, at, reason, details in lines:
            conn.execute(
                text(
                    "INSERT INTO audit_log (at, deal_id, kind, rule, reason, details) "
                    "VALUES (:at, :deal, 'csat_recorded', '', :reason, :details)"
                ),
                {"at": at, "deal": deal_id, "reason": reason, "details": details},
            )
    migrate(engine)
    with open_store(url).begin() as s:
        assert [
            (a.deal_id, a.contact_email, a.score, a.scale_max, a.answered_at.hour)
            for a in Repo(s).survey_answers()
        ] == [(1, "jane@acme.example", 4, 5, 12)]
    command.downgrade(alembic_config(url), "0006")  # and back, for a rollback
    engine.dispose()
