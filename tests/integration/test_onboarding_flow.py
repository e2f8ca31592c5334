"""The whole flow on the embedded defaults: Maildir in, .ics meetings, .eml out, SQLite state."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from agent.deals import ContactSpec
from agent.outbox.transports.base import SendResult, TransportError
from tests.conftest import ACCOUNT_MANAGER, CLIENT, CSM, MANAGER, ROOT, Harness, write_config
from tests.integration.sign_off import with_sign_off

INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)  # Tuesday
LAUNCH_AT = datetime(2026, 12, 8, 10, 0, tzinfo=UTC)  # the next Tuesday


def test_handover_sends_the_intro_threaded_tagged_and_marked_automatic(harness: Harness) -> None:
    deal_id = harness.add_deal()
    assert harness.stage(deal_id) == "introduction-call"  # brief complete: checked and advanced by rules
    harness.run()
    [intro] = harness.sent()
    show = harness.show(deal_id)
    token = show["token"]
    assert intro["To"].addresses[0].addr_spec == CLIENT[1]
    assert [a.addr_spec for a in intro["Cc"].addresses] == [CSM[1]]
    assert intro["Subject"].endswith(f"[ref:{token}]")
    assert intro["Reply-To"].addresses[0].addr_spec == f"onboarding+{token}@example.com"
    assert intro["Auto-Submitted"] == "auto-generated"
    assert intro["Message-ID"].endswith("@example.com>")
    assert intro.get_content_type() == "multipart/alternative"
    assert [p.get_content_type() for p in intro.iter_parts()] == ["text/plain", "text/html"]
    assert "introduction call" in intro.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    [email] = show["emails"]
    assert email["template"] == "intro" and email["status"] == "sent"
    assert email["message_id"] == intro["Message-ID"]
    assert email["rule"] == "introduction-call.on_enter"


def test_each_email_is_sent_once_however_many_passes(harness: Harness) -> None:
    harness.add_deal()
    for _ in range(3):
        harness.run()
    assert len(harness.sent()) == 1


def test_bcc_from_csm_is_logged_with_its_reason_and_auto_reply_is_never_answered(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.run()
    harness.mail(CSM, [CLIENT], "Your rollout plan")  # the agent is in neither To nor Cc: BCC
    harness.mail(
        CLIENT, [CSM], "Automatic reply: Your rollout plan", headers={"Auto-Submitted": "auto-replied"}
    )
    harness.mail(CLIENT, [CSM], "Out of Office", headers={"X-Auto-Response-Suppress": "All"})
    harness.run()
    messages = {m["subject"]: m for m in harness.show(deal_id)["messages"]}
    assert messages["Your rollout plan"]["direction"] == "bcc"
    assert "jane@acme-radio.example is a contact" in messages["Your rollout plan"]["match_reason"]
    assert messages["Automatic reply: Your rollout plan"]["kind"] == "auto_reply"
    assert len(harness.sent()) == 1  # only the intro: nothing answered the auto-replies
    events = [e for e in harness.show(deal_id)["events"] if e["kind"] == "message_ignored"]
    assert len(events) == 2
    assert harness.stage(deal_id) == "introduction-call"  # auto-replies never move a deal


def test_completed_intro_call_sends_recap_and_moves_to_set_up(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.meeting(
        "intro", "Acme Radio introduction call", INTRO_AT, description="Agreed: go-live 15 January."
    )
    harness.run()
    show = harness.show(deal_id)
    [meeting] = show["meetings"]
    assert meeting["type"] == "introduction-call" and meeting["status"] == "scheduled"
    assert {t["id"]: t["status"] for t in show["tasks"]}["schedule-intro"] == "done"

    harness.at(INTRO_AT + timedelta(minutes=45 + 14))  # inside the 15-minute grace: not yet held
    harness.run()
    assert harness.sent_templates() == ["intro"]

    harness.at(INTRO_AT + timedelta(minutes=45 + 15))
    harness.run()
    assert harness.sent_templates() == ["intro", "recap"]
    recap = harness.sent()[-1]
    body = recap.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Agreed: go-live 15 January." in body
    assert "Tuesday 1 December 2026" in body
    assert {a.addr_spec for a in recap["Cc"].addresses} == {CSM[1], ACCOUNT_MANAGER[1]}  # csm + Informed
    intro = harness.sent()[0]
    assert intro["Message-ID"] in recap["References"]  # threads into the deal's conversation
    show = harness.show(deal_id)
    assert show["stage"] == "set-up"
    assert [h["stage"] for h in show["stage_history"]] == ["customer-brief", "introduction-call", "set-up"]
    assert show["stage_history"][1]["exited_at"] == (INTRO_AT + timedelta(minutes=60)).isoformat()
    recap_events = [e for e in show["events"] if e["rule"] == "recap-after-intro"]
    assert any("was held" in e["reason"] for e in recap_events)
    harness.run()
    assert harness.sent_templates() == ["intro", "recap"]  # never twice


def test_rescheduled_call_does_not_fire_the_old_time(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.meeting("intro", "Acme Radio intro", INTRO_AT)
    harness.run()
    later = INTRO_AT + timedelta(days=2)
    harness.meeting("intro", "Acme Radio intro", later, sequence=1)
    harness.run()
    harness.at(INTRO_AT + timedelta(hours=3))  # the old time has passed
    harness.run()
    assert harness.sent_templates() == ["intro"]
    assert harness.stage(deal_id) == "introduction-call"
    harness.at(later + timedelta(hours=1))
    harness.run()
    assert harness.sent_templates() == ["intro", "recap"]
    assert harness.stage(deal_id) == "set-up"
    assert any(e["kind"] == "meeting_rescheduled" for e in harness.show(deal_id)["events"])


def test_cancelled_call_sends_no_recap_and_tells_the_responsible_person(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.meeting("intro", "Acme Radio intro", INTRO_AT)
    harness.run()
    harness.meeting("intro", "Acme Radio intro", INTRO_AT, sequence=1, method="CANCEL", status="CANCELLED")
    harness.run()
    harness.at(INTRO_AT + timedelta(hours=2))
    harness.run()
    assert harness.sent_templates() == ["intro", "notice"]
    notice = harness.sent()[-1]
    assert notice["To"].addresses[0].addr_spec == CSM[1]  # R of the stage's tasks
    assert "cancelled" in notice.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert harness.show(deal_id)["meetings"][0]["status"] == "cancelled"
    assert harness.stage(deal_id) == "introduction-call"


def test_final_call_sends_completion_then_survey_one_business_day_later_and_records_csat(
    harness: Harness,
) -> None:
    deal_id = harness.add_deal(stage="training")
    harness.meeting("launch", "Acme Radio learner launch", LAUNCH_AT, 60)
    harness.run()
    harness.at(LAUNCH_AT + timedelta(minutes=80))
    harness.run()
    assert harness.sent_templates() == ["completion"]
    assert harness.stage(deal_id) == "post-training-cs"
    # one business day later (Wednesday) at 10:00 in the client's zone (London: 10:00 UTC in December)
    harness.at(datetime(2026, 12, 9, 9, 59, tzinfo=UTC))
    harness.run()
    assert harness.sent_templates() == ["completion"]
    harness.at(datetime(2026, 12, 9, 10, 0, tzinfo=UTC))
    harness.run()
    assert harness.sent_templates() == ["completion", "survey"]
    survey = harness.sent()[-1]
    harness.mail(
        CLIENT,
        [("Agent", survey["Reply-To"].addresses[0].addr_spec)],
        "Re: survey",
        "4 - good, thanks\n\nOn Wed, Sam wrote:\n> 1 to 5?",
        headers={"In-Reply-To": survey["Message-ID"]},
    )
    harness.run()
    show = harness.show(deal_id)
    assert show["csat"] == 4
    assert show["stage"] == "post-training-sales"  # csat completes the last task of post-training-cs


def test_survey_due_over_a_weekend_waits_for_the_next_business_day(harness: Harness) -> None:
    friday = datetime(2026, 12, 4, 15, 0, tzinfo=UTC)
    harness.add_deal(stage="training")
    harness.meeting("launch", "Acme Radio learner launch", friday, 60)
    harness.run()
    harness.at(friday + timedelta(hours=2))
    harness.run()
    harness.at(friday + timedelta(days=2, hours=2))  # Sunday
    harness.run()
    assert harness.sent_templates() == ["completion"]
    harness.at(friday + timedelta(days=3, hours=2))  # Monday, after the call's time of day
    harness.run()
    assert harness.sent_templates() == ["completion", "survey"]


def test_approval_is_asked_of_the_accountable_person_and_their_reply_moves_the_deal(tmp_path: Path) -> None:
    harness = with_sign_off(tmp_path)
    deal_id = harness.add_deal(pipeline="sign-off")
    harness.task_done(deal_id, "sales-handover")
    harness.run()
    assert harness.stage(deal_id) == "post-training-sales"  # waiting for approval
    request = harness.sent()[-1]
    assert request["To"].addresses[0].addr_spec == MANAGER[1]  # A of the stage's task
    harness.mail(CSM, [("Agent", request["Reply-To"].addresses[0].addr_spec)], "Re: approve", "approve")
    harness.run()
    assert harness.stage(deal_id) == "post-training-sales"  # only the approver can approve
    harness.mail(MANAGER, [("Agent", request["Reply-To"].addresses[0].addr_spec)], "Re: approve", "Approved!")
    harness.run()
    assert harness.stage(deal_id) == "won"


def test_unmatched_message_waits_for_a_person(harness: Harness, caplog: pytest.LogCaptureFixture) -> None:
    harness.add_deal()
    harness.mail(
        ("Stranger", "someone@unknown.example"), [("Agent", "onboarding@example.com")], "Hello there"
    )
    with caplog.at_level("INFO"):
        harness.run()
    from agent.store.repo import Repo

    with harness.agent.sessions.begin() as s:
        [msg] = Repo(s).unmatched()
        assert msg.subject == "Hello there"
        assert "no deal" in msg.match_reason
    # the log names the message, so that a person can find it
    [line] = [r.getMessage() for r in caplog.records if "'Hello there' from" in r.getMessage()]
    assert f"message {msg.id} 'Hello there' from someone@unknown.example: no deal" in line


def test_one_message_reaching_the_agent_twice_as_other_bytes_is_logged_once(harness: Harness) -> None:
    # The CC copy and the BCC copy of one email differ in their transport headers (so their content
    # hashes differ) but carry the same Message-ID: the second is known by it.
    deal_id = harness.add_deal()
    harness.run()
    mid = harness.mail(
        CLIENT, [CSM], "Re: Welcome to onboarding", "Thanks.", cc=[("Agent", "onboarding@example.com")]
    )
    harness.mail(
        CLIENT,
        [CSM],
        "Re: Welcome to onboarding",
        "Thanks.",
        headers={"Received": "from mx2"},
        message_id=mid,
    )
    harness.run()
    assert [m["subject"] for m in harness.show(deal_id)["messages"]].count("Re: Welcome to onboarding") == 1
    from sqlalchemy import select

    from agent.store import models as m

    with harness.agent.sessions.begin() as s:
        reasons = s.scalars(select(m.AuditEntry.reason).where(m.AuditEntry.kind == "duplicate")).all()
    assert reasons == [f"message {mid} was already processed"]


def test_malformed_mail_and_calendar_are_quarantined_and_the_rest_goes_on(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.deliver(b"")  # not an email at all
    bad_ics = harness.config.ics_path / "broken.ics"
    bad_ics.parent.mkdir(parents=True, exist_ok=True)
    bad_ics.write_bytes(b"this is not a calendar")
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "A real question")
    report = harness.run()
    assert report.quarantined == 2
    from agent.store.repo import Repo

    with harness.agent.sessions.begin() as s:
        items = Repo(s).quarantined()
        assert {q.source for q in items} == {"mail", "calendar"}
        assert all(q.error for q in items)
        assert any(q.payload == b"this is not a calendar" for q in items)  # kept, not lost
    assert any(m["subject"] == "A real question" for m in harness.show(deal_id)["messages"])
    again = harness.run()
    assert again.quarantined == 0  # never retried forever


def test_crash_after_commit_before_ack_does_not_process_the_message_twice(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "Question")
    acked = harness.agent.mailbox.ack
    harness.agent.mailbox.ack = lambda mail, outcome: None  # type: ignore[method-assign]  # the "crash": no ack
    harness.run()
    harness.agent.mailbox.ack = acked  # type: ignore[method-assign]
    harness.run()
    messages = [m for m in harness.show(deal_id)["messages"] if m["subject"] == "Question"]
    assert len(messages) == 1
    assert list((harness.config.maildir_path / "new").iterdir()) == []


def test_nudge_goes_after_three_business_days_without_a_reply_and_not_after_one(harness: Harness) -> None:
    harness.add_deal()
    harness.run()
    harness.at(datetime(2026, 12, 1, 9, 1, tzinfo=UTC))  # one business day: too early
    harness.run()
    harness.at(datetime(2026, 12, 3, 8, 59, tzinfo=UTC))  # a minute early
    harness.run()
    assert harness.sent_templates() == ["intro"]
    harness.at(datetime(2026, 12, 3, 9, 1, tzinfo=UTC))  # Thursday: Mon + 3 business days is Thu 09:00
    harness.run()
    assert harness.sent_templates() == ["intro", "intro-followup"]
    followup = harness.sent()[-1]
    assert followup["In-Reply-To"]  # threads into the conversation


def test_no_nudge_when_the_client_replied(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.run()
    intro = harness.sent()[0]
    harness.mail(
        CLIENT, [("Agent", intro["Reply-To"].addresses[0].addr_spec)], "Re: Welcome", "Tuesday at 2?"
    )
    harness.run()
    harness.at(datetime(2026, 12, 10, 9, 0, tzinfo=UTC))
    harness.run()
    assert harness.sent_templates() == ["intro", "client-reply"]  # no nudge; the CSM has the reply
    [reply] = [m for m in harness.show(deal_id)["messages"] if m["subject"] == "Re: Welcome"]
    assert reply["direction"] == "inbound" and "reply address" in reply["match_reason"]


def test_a_broken_rule_is_disabled_and_the_others_still_run(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "standard-onboarding.yaml"
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace("{advance: set-up}", "{advance: nowhere}"), encoding="utf-8")
    cfg_path = write_config(tmp_path)
    cfg_text = cfg_path.read_text(encoding="utf-8").replace(
        f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"'
    )
    cfg_path.write_text(cfg_text, encoding="utf-8")
    config = load_config(cfg_path)
    h = Harness(config, ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    issues = [i for i in h.agent.runtime.rules.errors if i.rule == "recap-after-intro"]
    assert issues and "nowhere" in issues[0].message
    deal_id = h.add_deal()
    h.meeting("intro", "Acme Radio intro", INTRO_AT)
    h.run()
    h.at(INTRO_AT + timedelta(hours=2))
    h.run()
    assert h.sent_templates() == ["intro"]  # the broken rule (recap + advance) is off ...
    assert "schedule-intro" in [
        t["id"] for t in h.show(deal_id)["tasks"] if t["status"] == "done"
    ]  # ... others run


def test_killed_after_delivery_before_recording_it_sends_nothing_twice(harness: Harness) -> None:
    harness.add_deal()
    transport = harness.agent.outbox.transport
    real_send = transport.send

    def send_then_die(message: Any, recipients: list[str], outbox_id: int) -> SendResult:
        real_send(message, recipients, outbox_id)
        raise KeyboardInterrupt("killed between delivery and the status update")

    transport.send = send_then_die  # type: ignore[method-assign]
    with pytest.raises(KeyboardInterrupt):
        harness.run()
    transport.send = real_send  # type: ignore[method-assign]
    restarted = Harness(harness.config, harness.clock)  # a new process on the same state
    restarted.run()
    assert len(restarted.sent()) == 1
    assert restarted.sent_templates() == ["intro"]


def test_bounce_marks_the_address_tells_the_csm_and_stops_mail_to_it(harness: Harness) -> None:
    deal_id = harness.add_deal()
    bounce = (
        "From: Mail Delivery Subsystem <mailer-daemon@mx.acme-radio.example>\r\n"
        "To: onboarding@example.com\r\nSubject: Delivery Status Notification (Failure)\r\n"
        "Message-ID: <bounce-1@mx.acme-radio.example>\r\nX-Failed-Recipients: jane@acme-radio.example\r\n"
        "Auto-Submitted: auto-replied\r\n\r\nYour message wasn't delivered to jane@acme-radio.example.\r\n"
    )
    harness.deliver(bounce.encode())
    harness.run()  # the bounce is read before the intro goes out
    show = harness.show(deal_id)
    assert any(e["kind"] == "address_bounced" for e in show["events"])
    statuses = {e["template"]: e["status"] for e in show["emails"]}
    assert statuses == {"intro": "withdrawn", "notice": "sent"}
    [notice] = harness.sent()
    assert notice["To"].addresses[0].addr_spec == CSM[1]
    assert "jane@acme-radio.example bounced" in notice["Subject"]


def test_invitation_emailed_to_the_agent_schedules_the_call(harness: Harness) -> None:
    deal_id = harness.add_deal()
    ics = "\r\n".join(
        [
            "BEGIN:VCALENDAR",
            "VERSION:2.0",
            "PRODID:-//Google Inc//Google Calendar 70.9054//EN",
            "METHOD:REQUEST",
            "BEGIN:VEVENT",
            "UID:gcal-1@google.com",
            "SEQUENCE:0",
            "DTSTAMP:20261130T090000Z",
            "DTSTART;TZID=Europe/London:20261201T140000",
            "DTEND;TZID=Europe/London:20261201T144500",
            "SUMMARY:Kick-off: Acme Radio",
            "ORGANIZER:mailto:sam@example.com",
            f"ATTENDEE:mailto:{CLIENT[1]}",
            "END:VEVENT",
            "END:VCALENDAR",
            "",
        ]
    )
    raw = (
        "From: Sam Carter <sam@example.com>\r\nTo: onboarding@example.com\r\n"
        "Subject: Invitation: Kick-off: Acme Radio\r\nMessage-ID: <inv-1@google.com>\r\n"
        "Auto-Submitted: auto-generated\r\nMIME-Version: 1.0\r\n"
        'Content-Type: text/calendar; charset="UTF-8"; method=REQUEST\r\n\r\n' + ics
    )
    harness.deliver(raw.encode())
    harness.run()
    [meeting] = harness.show(deal_id)["meetings"]
    assert meeting["type"] == "introduction-call" and meeting["start"] == "2026-12-01T14:00:00+00:00"
    harness.at(datetime(2026, 12, 1, 15, 1, tzinfo=UTC))
    harness.run()
    assert harness.sent_templates() == ["intro", "recap"]  # an auto-generated invitation is still read


def test_stuck_deal_notifies_the_accountable_person_once(harness: Harness) -> None:
    deal_id = harness.add_deal(stage="set-up")
    harness.at(days_later(14))
    harness.run()
    harness.at(days_later(20))
    harness.run()
    notices = [m for m in harness.sent() if "[agent]" in m["Subject"]]
    assert len(notices) == 1
    # set-up's tasks are Accountable to the onboarding manager (import-data) and the CSM (provision-account)
    assert {a.addr_spec for a in notices[0]["To"].addresses} == {MANAGER[1], CSM[1]}
    assert harness.show(deal_id)["current_stage_late"] is True  # target_days 14


def days_later(days: int) -> datetime:
    return datetime(2026, 11, 30, 9, 0, tzinfo=UTC) + timedelta(days=days, minutes=1)


def test_daily_cap_per_recipient_postpones_instead_of_sending(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    text = cfg.read_text(encoding="utf-8").replace(
        "[agent]\n", "[agent]\nmax_emails_per_recipient_per_day = 1\n"
    )
    cfg.write_text(text, encoding="utf-8")
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    first = h.add_deal("Acme Radio")
    h.add_deal("Acme TV")  # same client contact: a second intro to jane the same day
    h.run()
    assert len(h.sent()) == 1
    postponed = [e for e in h.show(first)["events"] if e["kind"] == "email_postpone"] or [
        e for e in h.show(first + 1)["events"] if e["kind"] == "email_postpone"
    ]
    assert postponed and "limit" in postponed[0]["reason"]
    h.at(datetime(2026, 12, 1, 9, 30, tzinfo=UTC))
    h.run()
    assert len(h.sent()) == 2


def test_an_out_of_office_is_no_reply_so_the_nudge_still_goes(harness: Harness) -> None:
    harness.add_deal()
    harness.run()
    harness.at(datetime(2026, 11, 30, 9, 5, tzinfo=UTC))
    harness.mail(
        CLIENT,
        [("Agent", harness.reply_address(1))],
        "Automatic reply: Welcome",
        "I am away until 2 December.",
        headers={"Auto-Submitted": "auto-replied"},
    )
    harness.run()
    harness.at(datetime(2026, 12, 3, 9, 1, tzinfo=UTC))
    harness.run()
    assert harness.sent_templates() == ["intro", "intro-followup"]


def test_an_intro_sent_late_is_nudged_three_business_days_after_it_went(harness: Harness) -> None:
    harness.add_deal()
    transport = harness.agent.outbox.transport
    real_send = transport.send

    def down(message: Any, recipients: list[str], outbox_id: int) -> SendResult:
        raise TransportError("server down", permanent=False)

    transport.send = down  # type: ignore[method-assign]
    harness.run()  # the intro cannot go: queued with a backoff
    transport.send = real_send  # type: ignore[method-assign]
    harness.at(datetime(2026, 12, 2, 9, 0, tzinfo=UTC))  # Wednesday: it finally goes
    harness.run()
    assert harness.sent_templates() == ["intro"]
    harness.at(datetime(2026, 12, 3, 9, 1, tzinfo=UTC))  # three business days after it was *queued*
    harness.run()
    assert "intro-followup" not in harness.sent_templates()
    harness.at(datetime(2026, 12, 7, 9, 1, tzinfo=UTC))  # Monday: three business days after it went
    harness.run()
    assert harness.sent_templates().count("intro-followup") == 1


def test_one_email_that_cannot_be_built_does_not_hold_up_the_others(harness: Harness) -> None:
    from agent.store import models as m

    first = harness.add_deal("Acme Radio")
    harness.add_deal("Globex", contacts=[ContactSpec("Gil", "gil@globex.example", "client_admin")])
    with harness.agent.sessions.begin() as s:  # an address that slipped in before validation existed
        s.query(m.OutboxEmail).filter_by(deal_id=first).one().to = [
            {"name": "", "email": "<jane@acme.example>"}
        ]
    harness.run()
    statuses = {e["template"] + str(e["id"]): e["status"] for e in harness.show(first)["emails"]}
    assert "failed" in statuses.values()
    assert harness.show(2)["emails"][0]["status"] == "sent"  # Globex's intro went all the same


def test_quarantine_retry_keeps_the_item_until_it_goes_through(harness: Harness) -> None:
    from agent.store.repo import Repo

    deal_id = harness.add_deal()
    handler = harness.agent.runtime.handlers.mail
    real = handler.process

    def broken(*args: Any, **kwargs: Any) -> str | None:
        raise RuntimeError("a bug in this version")

    handler.process = broken  # type: ignore[method-assign]
    harness.mail(CLIENT, [("Agent", "onboarding@example.com")], "A question")
    harness.run()
    with harness.agent.sessions.begin() as s:
        [item] = Repo(s).quarantined()
        item_id = item.id
    assert harness.agent.ingest.retry_quarantined(item_id) == "quarantined"  # still broken: kept, not lost
    with harness.agent.sessions.begin() as s:
        [item] = Repo(s).quarantined()
        assert (item.id, item.attempts, item.error) == (item_id, 2, "RuntimeError: a bug in this version")
    handler.process = real  # type: ignore[method-assign]  # the fix is deployed
    assert harness.agent.ingest.retry_quarantined(item_id) == "processed"
    with harness.agent.sessions.begin() as s:
        assert Repo(s).quarantined() == []
    assert [m["subject"] for m in harness.show(deal_id)["messages"]] == ["A question"]


def test_an_item_with_nothing_kept_is_not_deleted_by_a_retry(harness: Harness) -> None:
    from agent.store.repo import Repo

    harness.agent.work.quarantine("meeting:x", "calendar", None, "ValueError: bad meeting")
    with harness.agent.sessions.begin() as s:
        [item] = Repo(s).quarantined()
    assert harness.agent.ingest.retry_quarantined(item.id).startswith("cannot retry")
    with harness.agent.sessions.begin() as s:
        assert len(Repo(s).quarantined()) == 1


def test_a_call_booked_before_the_hand_over_gets_its_recap(harness: Harness) -> None:
    harness.meeting("intro", "Acme Radio introduction call", INTRO_AT)  # the CSM booked it first
    harness.run()
    deal_id = harness.add_deal()  # ... and Sales handed the deal over afterwards
    [meeting] = harness.show(deal_id)["meetings"]  # the hand-over claimed it
    assert meeting["type"] == "introduction-call"
    harness.run()  # the intro goes at the hand-over, before the call
    harness.at(INTRO_AT + timedelta(hours=1))
    harness.run()
    assert harness.sent_templates() == ["intro", "recap"]
    assert harness.stage(deal_id) == "set-up"


def test_a_reply_threads_under_the_latest_message_with_its_references_extended(harness: Harness) -> None:
    harness.add_deal()
    harness.run()
    [intro] = harness.sent()
    harness.at(datetime(2026, 11, 30, 10, 0, tzinfo=UTC))
    reply_id = harness.mail(
        CLIENT,
        [("Agent", intro["Reply-To"].addresses[0].addr_spec)],
        "Re: Welcome",
        "Tuesday 2pm works.",
        headers={"In-Reply-To": intro["Message-ID"], "References": intro["Message-ID"]},
    )
    harness.meeting("intro", "Acme Radio introduction call", INTRO_AT)
    harness.run()
    harness.at(INTRO_AT + timedelta(hours=1))
    harness.run()
    recap = harness.sent()[-1]
    assert recap["In-Reply-To"] == reply_id
    assert recap["References"].split() == [intro["Message-ID"], reply_id]


def test_a_no_show_sends_no_recap_and_tells_the_responsible_person(tmp_path: Path) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("[review]\ntemplates = []", '[review]\ntemplates = ["recap"]'))
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    deal_id = h.add_deal()
    h.meeting("intro", "Acme Radio intro", INTRO_AT)
    h.run()
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()  # held as far as the calendar knows: the recap's draft waits for review
    h.mail(CSM, [("Agent", h.reply_address(deal_id))], "Re: intro", "no-show\n\nJane never joined.")
    h.run()
    statuses = {e["template"]: e["status"] for e in h.show(deal_id)["emails"]}
    assert statuses["recap"] == "withdrawn" and statuses["notice"] == "sent"
    notice = h.sent()[-1]
    assert notice["To"].addresses[0].addr_spec == CSM[1] and "no-show" in notice["Subject"]
    assert h.show(deal_id)["meetings"][0]["status"] == "no_show"


def test_the_survey_goes_to_each_contact_on_its_own(harness: Harness) -> None:
    contacts = [
        ContactSpec(*CLIENT, "client_admin"),
        ContactSpec("Bob Roe", "bob@acme-radio.example", "contact"),
    ]
    deal_id = harness.add_deal(stage="training", contacts=contacts)
    harness.meeting("launch", "Acme Radio learner launch", LAUNCH_AT, 60)
    harness.run()
    harness.at(LAUNCH_AT + timedelta(minutes=80))
    harness.run()
    harness.at(datetime(2026, 12, 9, 10, 1, tzinfo=UTC))
    harness.run()
    surveys = [m for m in harness.sent() if m["Subject"].startswith("One question")]
    assert sorted(m["To"].addresses[0].addr_spec for m in surveys) == ["bob@acme-radio.example", CLIENT[1]]
    assert all(len(m["To"].addresses) == 1 for m in surveys)
    texts = [m.get_body(("plain",)).get_content() for m in surveys]  # type: ignore[union-attr]
    assert any("Hello Bob" in t for t in texts) and any("Hello Jane" in t for t in texts)
    assert [e["status"] for e in harness.show(deal_id)["emails"] if e["template"] == "survey"] == [
        "sent",
        "sent",
    ]


def test_the_csms_notes_emailed_after_the_call_are_in_the_recap(harness: Harness) -> None:
    deal_id = harness.add_deal()
    harness.meeting("intro", "Acme Radio introduction call", INTRO_AT, description="Agenda: goals, timeline.")
    harness.run()
    harness.at(INTRO_AT + timedelta(minutes=50))  # the call is over; the grace is not
    to = [("Agent", harness.reply_address(deal_id))]
    harness.mail(CSM, to, "Notes: Acme Radio intro", "Jane owns the data import.\nGo-live is 15 January.")
    harness.mail(CSM, to, "Re: Acme Radio", "done schedule-intro")  # a command is not a note
    harness.at(INTRO_AT + timedelta(hours=1))
    harness.run()
    recap = harness.sent()[-1]
    text = recap.get_body(("plain",)).get_content().replace("\r\n", "\n")  # type: ignore[union-attr]
    assert "Notes from the call:\nJane owns the data import.\nGo-live is 15 January." in text
    assert "done schedule-intro" not in text
    assert "Go-live is 15 January." in recap.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_while_the_daemon_runs_the_recap_goes_within_seconds_of_the_call_being_held(tmp_path: Path) -> None:
    import threading
    import time

    from tests.conftest import RealTime

    cfg = write_config(tmp_path, "[calendar]\ncompletion_grace_minutes = 0\n[daemon]\npoll_seconds = 300\n")
    h = Harness(load_config(cfg), RealTime())  # real time, as in production
    h.clock = ManualClock(datetime.now(UTC))
    deal_id = h.add_deal()
    end = datetime.now(UTC) + timedelta(seconds=2)
    h.meeting("soon", "Acme Radio introduction call", end - timedelta(minutes=30), 30)
    thread = threading.Thread(target=h.agent.run_forever, daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while "recap" not in h.sent_templates() and time.monotonic() < deadline:
            time.sleep(0.1)
        took = (datetime.now(UTC) - end).total_seconds()
    finally:
        h.agent.request_stop()
        thread.join(timeout=15)
    assert "recap" in h.sent_templates() and h.stage(deal_id) == "set-up"
    assert took < 5  # full passes come every 300 s: this is the wait on the next due timer


def test_hybrid_deal_moves_on_only_when_both_departments_calls_are_held(harness: Harness) -> None:
    roles = {"csm": CSM, "csm_team_lead": MANAGER, "fmc_team_lead": ("Fiona Field", "fiona@example.com")}
    deal_id = harness.add_deal(pipeline="hybrid-onboarding", stage="onboarding", roles=roles)
    cs_at = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
    fmc_at = datetime(2026, 12, 3, 10, 0, tzinfo=UTC)
    harness.meeting("cs", "Acme Radio learning onboarding", cs_at, 60)
    harness.meeting("fmc", "Acme Radio credentialing onboarding", fmc_at, 60)
    harness.run()
    harness.at(cs_at + timedelta(hours=2))
    harness.run()
    assert harness.stage(deal_id) == "onboarding"  # one department done: the deal waits
    assert [t for t in harness.sent_templates() if t != "notice"] == ["recap"]
    harness.at(fmc_at + timedelta(hours=2))
    harness.run()
    assert harness.stage(deal_id) == "adoption"
    assert [t for t in harness.sent_templates() if t != "notice"] == ["recap", "recap", "completion"]


def test_an_all_day_event_is_not_a_call(harness: Harness) -> None:
    deal_id = harness.add_deal()
    path = harness.config.ics_path / "offsite.ics"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(
        "\r\n".join(
            [
                "BEGIN:VCALENDAR",
                "VERSION:2.0",
                "PRODID:-//t//EN",
                "BEGIN:VEVENT",
                "UID:allday@example.com",
                "DTSTAMP:20261130T090000Z",
                "DTSTART;VALUE=DATE:20261201",
                "DTEND;VALUE=DATE:20261202",
                "SUMMARY:Acme Radio introduction day",
                f"ATTENDEE:mailto:{CLIENT[1]}",
                "END:VEVENT",
                "END:VCALENDAR",
                "",
            ]
        )
    )
    harness.run()
    assert harness.show(deal_id)["meetings"] == []
    harness.at(datetime(2026, 12, 3, 9, 0, tzinfo=UTC))
    harness.run()
    assert "recap" not in harness.sent_templates()


def test_a_header_injection_in_a_contact_name_is_refused_and_cannot_reach_a_header(harness: Harness) -> None:
    from agent import deals
    from agent.outbox.compose import compose

    spec = deals.DealSpec(
        name="Evil",
        pipeline="standard-onboarding",
        roles={"csm": CSM},
        contacts=[ContactSpec("Jane\r\nBcc: thief@evil.example", "jane@acme.example", "contact")],
    )
    problems = deals.validate_spec(spec, harness.agent.runtime.rules.pipelines)
    assert problems == [
        "contact_name: 'Jane\\r\\nBcc: thief@evil.example': a name cannot hold line breaks "
        "(a header injection)"
    ]
    msg = compose(
        harness.config.agent,
        to=[{"name": "Jane\r\nBcc: thief@evil.example", "email": "jane@acme.example"}],
        cc=[],
        subject="Hi",
        text="t",
        html="<p>h</p>",
        message_id="<x@example.com>",
        token=None,
        in_reply_to="",
        references=[],
        date=datetime(2026, 11, 30, tzinfo=UTC),
    )
    assert msg["Bcc"] is None and b"\r\nBcc:" not in msg.as_bytes()


def test_a_storm_of_500_messages_from_one_sender_is_held_to_the_daily_caps(tmp_path: Path) -> None:
    # A (careless) rule that answers every client message: the caps still stop a mail loop.
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "standard-onboarding.yaml"
    path.write_text(
        path.read_text() + "\n  - id: answer-everything\n    when: {message_received: client}\n"
        "    then: [{send: intro-followup, to: [client_contacts]}]\n"
    )
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace(f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"'))
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    deal_id = h.add_deal()
    for i in range(500):
        h.mail(CLIENT, [("Agent", h.reply_address(deal_id))], f"Storm {i}", "Hello again")
    report = h.run()
    assert report.messages == 500 and len(h.show(deal_id)["messages"]) == 500  # every one logged
    to_client = [m for m in h.sent() if CLIENT[1] in str(m["To"])]
    assert len(to_client) == 10  # max_emails_per_recipient_per_day, not 500
    # and the client's words to the CSM, up to the deal's daily budget for our people (the client's is apart)
    assert len(h.sent()) == 10 + 20
    postponed = [e for e in h.show(deal_id)["events"] if e["kind"] == "email_postpone"]
    assert postponed and "limit" in postponed[0]["reason"]


@pytest.mark.parametrize("review", [False, True])
def test_a_day_of_forwarded_client_mail_does_not_hold_the_recap(tmp_path: Path, review: bool) -> None:
    cfg = write_config(tmp_path)
    cfg.write_text(
        cfg.read_text().replace("[review]\ntemplates = []", '[review]\ntemplates = ["recap"]')
        if review
        else cfg.read_text()
    )
    harness = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    deal = harness.add_deal()
    harness.meeting("intro", "Acme Radio introduction call", INTRO_AT)
    harness.at(INTRO_AT - timedelta(hours=2))
    harness.run()
    for i in range(30):  # to the agent alone: each is forwarded to the CSM, until the deal's daily cap
        harness.mail(CLIENT, [("Agent", harness.reply_address(deal))], f"Question {i}", "One more thing.")
    harness.run()
    assert harness.sent_templates().count("client-reply") < 30  # the cap holds the rest back
    harness.at(INTRO_AT + timedelta(hours=1))  # the call was held: its recap goes, or its review request
    harness.run()
    # before: postponed behind the forwards to the CSM ("20 emails sent on this deal in 24 h")
    assert ("review-request" if review else "recap") in harness.sent_templates()


def test_a_template_that_raises_keeps_the_recap_aside_with_its_line_until_fixed(tmp_path: Path) -> None:
    from agent.store.repo import Repo

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates" / "emails", templates)
    body = templates / "recap" / "body.txt"
    good = body.read_text()
    # passes `check` (the sample deal has no "teams"), fails for a deal whose data breaks it
    body.write_text(
        good + '\nSeats per team: {{ deal.attributes.get("seats", 10) // deal.attributes.get("teams", 1) }}\n'
    )
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace(str(ROOT / "templates" / "emails"), str(templates)))
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    broken = h.add_deal("Acme Radio", attributes={"seats": 40, "teams": 0})
    fine = h.add_deal("Bravo Books", contacts=[ContactSpec("Bo", "bo@bravo-books.example", "client_admin")])
    h.meeting("intro", "Acme Radio introduction call", INTRO_AT)
    h.meeting("intro-b", "Bravo Books introduction call", INTRO_AT, attendees=("bo@bravo-books.example",))
    h.run()
    h.at(INTRO_AT + timedelta(hours=1))
    report = h.run()

    assert report.quarantined == 1 and h.stage(fine) == "set-up"  # the other deal goes on
    assert h.stage(broken) == "introduction-call"  # nothing half-done: no recap, no stage change
    with h.agent.sessions.begin() as s:
        [item] = Repo(s).quarantined()
        item_id, error = item.id, item.error
    assert f"{body}:" in error and "ZeroDivisionError" in error  # the file and line to fix
    assert int(error.split(f"{body}:")[1].split(":")[0]) == len(good.splitlines()) + 2

    body.write_text(good)  # the fix, then `python -m agent quarantine retry`
    h.agent.reload()
    assert h.agent.ingest.retry_quarantined(item_id) == "processed"
    h.run()
    assert h.stage(broken) == "set-up"
    assert [e["template"] for e in h.show(broken)["emails"]].count("recap") == 1


def test_an_invitation_in_an_unknown_time_zone_is_read_in_the_agents_and_the_trail_says_so(
    harness: Harness,
) -> None:
    deal = harness.add_deal()
    path = harness.meeting("intro", "Acme Radio introduction call", INTRO_AT)
    text = path.read_text().replace(
        "DTSTART:20261201T140000Z", "DTSTART;TZID=Atlantis/Poseidonia:20261201T140000"
    )
    path.write_text(text.replace("DTEND:20261201T144500Z", "DTEND;TZID=Atlantis/Poseidonia:20261201T144500"))
    harness.run()
    [meeting] = harness.show(deal)["meetings"]
    assert meeting["start"] == "2026-12-01T14:00:00+00:00"  # Europe/London ([agent] timezone) in December
    [scheduled] = [e for e in harness.show(deal)["events"] if e["kind"] == "meeting_scheduled"]
    assert "unknown time zone 'Atlantis/Poseidonia' read as Europe/London" in scheduled["reason"]
    harness.at(INTRO_AT + timedelta(hours=1))
    harness.run()
    assert "recap" in harness.sent_templates() and harness.stage(deal) == "set-up"


def test_a_part_that_crashes_is_backed_off_and_the_others_go_on(harness: Harness) -> None:
    from agent.store.repo import Repo

    deal = harness.add_deal()
    harness.meeting("intro", "Acme Radio introduction call", INTRO_AT)
    harness.run()
    calls = []

    def crash() -> Any:
        calls.append(1)
        raise RuntimeError("a bug in the mailbox code")

    harness.agent.mailbox.fetch = crash  # type: ignore[method-assign]
    harness.at(INTRO_AT + timedelta(hours=1))
    harness.run()
    assert "recap" in harness.sent_templates() and harness.stage(deal) == "set-up"  # timers and sending go on
    harness.run()
    assert len(calls) == 1  # backed off: not hammered on every pass
    with harness.agent.sessions.begin() as s:
        health = Repo(s).cursor("health:mailbox") or ""
    assert "crashed: RuntimeError: a bug in the mailbox code" in health
