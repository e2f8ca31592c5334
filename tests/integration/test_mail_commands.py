"""Our people steer the agent by email; ambiguous mail is held and a person is asked."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import select

from agent.clock import ManualClock
from agent.config import load_config
from agent.store import models as m
from agent.store.repo import Repo
from tests.conftest import CLIENT, CSM, Harness, write_config

AGENT = ("Agent", "onboarding@example.com")
AUTH_OK = "mx.example.com; dkim=pass header.d=example.com; spf=pass smtp.mailfrom=sam@example.com"


def test_a_csm_advances_a_deal_and_ticks_a_task_by_writing_to_the_agent(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="set-up")
    harness.mail(
        CSM,
        [AGENT],
        f"Acme Radio [ref:{harness.show(deal_id)['token']}]",
        "done create-training-users\n\nSam",
    )
    harness.run()
    tasks = {t["id"]: t["status"] for t in harness.show(deal_id)["tasks"]}
    assert tasks["create-training-users"] == "done" and tasks["create-entities"] == "open"
    why = "the client's stations exist already"
    harness.mail(
        CSM, [(AGENT[0], harness.reply_address(deal_id))], "Re: set-up", f"advance to training because {why}"
    )
    harness.run()
    assert harness.stage(deal_id) == "training"  # set-up's other tasks are open: the reason lets it pass
    commands = [e["reason"] for e in harness.show(deal_id)["events"] if e["kind"] == "command"]
    assert commands == [
        "'done create-training-users' from sam@example.com",
        f"'advance to training because {why}' from sam@example.com",
    ]


def test_commands_are_only_read_in_mail_to_the_agent_not_in_bcc(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="set-up")
    harness.mail(
        CSM, [CLIENT], "Advance notice: training next week", "advance\n\nHi Jane, ..."
    )  # agent in BCC
    harness.run()
    assert harness.stage(deal_id) == "set-up"


def test_a_command_that_cannot_be_done_is_said_in_the_audit_trail(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="set-up")
    harness.mail(CSM, [(AGENT[0], harness.reply_address(deal_id))], "Re: x", "set stage nowhere")
    harness.run()
    [failed] = [e for e in harness.show(deal_id)["events"] if e["kind"] == "command_failed"]
    assert "no stage 'nowhere'" in failed["reason"]
    assert harness.stage(deal_id) == "set-up"


def test_with_trusted_servers_a_spoofed_csm_is_refused_and_a_verified_one_obeyed(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace("[agent]\n", '[agent]\ntrusted_authserv_ids = ["mx.example.com"]\n')
    )
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    deal_id = h.add_deal(stage="set-up")
    to = [(AGENT[0], h.reply_address(deal_id))]
    h.mail(CSM, to, "Re: x", "advance")  # From says sam@example.com; nothing proves it
    h.run()
    assert h.stage(deal_id) == "set-up"
    with h.agent.sessions.begin() as s:
        refused = s.scalars(select(m.AuditEntry.reason).where(m.AuditEntry.kind == "command_refused")).all()
    assert len(refused) == 1 and "no DKIM, DMARC or SPF pass" in refused[0]
    h.mail(CSM, to, "Re: x", "advance because it is set up", headers={"Authentication-Results": AUTH_OK})
    h.run()
    assert h.stage(deal_id) == "training"


def test_ignore_logs_the_message_and_runs_no_rule(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="post-training-cs")
    harness.mail(
        CSM, [(AGENT[0], harness.reply_address(deal_id))], "Re: survey", "ignore\n\n5 stars from Jane"
    )
    harness.run()
    [msg] = [m for m in harness.show(deal_id)["messages"] if m["subject"] == "Re: survey"]
    assert msg["match_reason"]
    assert not any(
        e["kind"] == "rule_fired" and "message" in e["reason"] for e in harness.show(deal_id)["events"]
    )


def test_ambiguous_mail_is_held_the_csm_is_asked_and_their_number_assigns_it(harness: Harness) -> None:
    radio = harness.add_deal("Acme Radio")
    tv = harness.add_deal("Acme TV")  # the same client contact on both deals
    harness.run()
    sent_before = len(harness.sent())
    harness.mail(CLIENT, [CSM], "Quick question", "Can we move the training to Friday?")
    harness.run()
    with harness.agent.sessions.begin() as s:
        [held] = Repo(s).unmatched()
        assert held.status == "held" and held.candidates == [radio, tv]
        assert held.raw is not None and b"Can we move the training to Friday?" in held.raw  # kept whole
    [question] = harness.sent()[sent_before:]
    assert question["To"].addresses[0].addr_spec == CSM[1]  # the Responsible CSM of the candidates
    body = question.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "1. Acme Radio" in body and "2. Acme TV" in body
    harness.mail(
        CSM,
        [AGENT],
        "Re: " + question["Subject"],
        "2\n\nSam",
        headers={"In-Reply-To": question["Message-ID"], "References": question["Message-ID"]},
    )
    harness.run()
    [msg] = [m for m in harness.show(tv)["messages"] if m["subject"] == "Quick question"]
    assert "answering the agent" in msg["match_reason"]
    assert not [m for m in harness.show(radio)["messages"] if m["subject"] == "Quick question"]
    with harness.agent.sessions.begin() as s:
        assert Repo(s).unmatched() == []


def test_a_deal_command_in_a_forward_decides_between_two_deals(harness: Harness) -> None:
    harness.add_deal("Acme Radio")
    tv = harness.add_deal("Acme TV")
    body = (
        "deal Acme TV\n\n---------- Forwarded message ---------\nFrom: Jane Doe <jane@acme-radio.example>\n"
        "Date: Mon, 30 Nov 2026 at 08:00\nSubject: Question\nTo: Sam Carter <sam@example.com>\n\nHi Sam..."
    )
    harness.mail(CSM, [AGENT], "Fwd: Question", body)
    harness.run()
    [msg] = [m for m in harness.show(tv)["messages"] if m["subject"] == "Fwd: Question"]
    assert msg["match_reason"] == "a person said so: 'deal Acme TV'"


def test_deal_names_are_found_by_index_among_many_deals(harness: Harness) -> None:
    with harness.agent.sessions.begin() as s:
        repo = Repo(s)
        for i in range(300):
            repo.add(
                m.Deal(
                    name=f"Client {i} Ltd",
                    name_key=m.name_key(f"Client {i} Ltd"),
                    pipeline="standard-onboarding",
                    stage="set-up",
                    token=f"TOKEN{i:03d}",
                    timezone="UTC",
                    created_at=harness.clock.now(),
                )
            )
        found = repo.deals_named_in("Re: Kick-off for CLIENT 42  LTD next week")
        assert [repo.deal(i).name for i in found] == ["Client 42 Ltd"]  # type: ignore[union-attr]
        assert repo.deals_named_in("Client 4") == set()  # whole names only


def test_unmatched_mail_is_listed_in_a_daily_notice_once_a_day(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace("[agent]\n", '[agent]\nunmatched_notice_to = ["lead@example.com"]\n')
    )
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 7, 0, tzinfo=UTC)))  # 07:00 in London
    h.mail(("Stranger", "someone@unknown.example"), [AGENT], "Who handles my account?")
    h.run()
    assert h.sent() == []  # before 09:00
    h.at(datetime(2026, 11, 30, 9, 5, tzinfo=UTC))
    h.run()
    h.run()
    [digest] = h.sent()
    assert digest["To"].addresses[0].addr_spec == "lead@example.com"
    assert "1 message matched no deal" in digest["Subject"]
    assert "Who handles my account?" in digest.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    h.at(datetime(2026, 12, 1, 9, 5, tzinfo=UTC))
    h.run()
    assert len(h.sent()) == 2  # the next day, again, while it is still unassigned


def test_a_spoofed_sender_cannot_fire_a_pipelines_own_command_rule(tmp_path: Path) -> None:
    import shutil

    from tests.conftest import ROOT

    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "standard-onboarding.yaml"
    path.write_text(
        path.read_text()
        + "\n  - id: skip\n    when: {command: skip}\n"
        + "    then: [{complete_task: deliver-training}, {advance: next}]\n"
    )
    cfg = write_config(tmp_path)
    text = cfg.read_text().replace(f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"')
    cfg.write_text(text.replace("[agent]\n", '[agent]\ntrusted_authserv_ids = ["mx.example.com"]\n'))
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    deal_id = h.add_deal(stage="training")
    h.mail(CSM, [(AGENT[0], h.reply_address(deal_id))], "Re: x", "skip")  # forged: nothing proves the From
    h.run()
    assert h.stage(deal_id) == "training"
    h.mail(
        CSM,
        [(AGENT[0], h.reply_address(deal_id))],
        "Re: x",
        "skip",
        headers={"Authentication-Results": AUTH_OK},
    )
    h.run()
    assert h.stage(deal_id) == "post-training-cs"  # the same words from the verified CSM do fire the rule


def test_a_meeting_of_two_possible_deals_is_asked_about_and_the_answer_gets_its_recap(
    harness: Harness,
) -> None:
    from datetime import timedelta

    harness.add_deal("Acme Radio")
    tv = harness.add_deal("Acme TV")
    harness.run()
    intro_at = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    harness.meeting("which", "Introduction call", intro_at)  # Jane is a contact of both deals
    harness.run()
    [question] = [q for q in harness.sent() if "Which deal" in q["Subject"]]
    assert question["To"].addresses[0].addr_spec == CSM[1]  # the organizer, one of ours
    body = question.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "A meeting could belong" in body and "2. Acme TV" in body
    harness.mail(
        CSM,
        [AGENT],
        "Re: " + question["Subject"],
        "2",
        headers={"In-Reply-To": question["Message-ID"], "References": question["Message-ID"]},
    )
    harness.run()
    [meeting] = harness.show(tv)["meetings"]
    assert meeting["type"] == "introduction-call" and "answering the agent" in meeting["match_reason"]
    harness.at(intro_at + timedelta(hours=1))
    harness.run()
    assert [e["template"] for e in harness.show(tv)["emails"]] == ["intro", "recap"]
    assert [e["template"] for e in harness.show(1)["emails"]] == ["intro"]
