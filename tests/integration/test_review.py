"""Review before sending: the draft goes to the Responsible person, whose reply decides it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.config import load_config
from tests.conftest import CLIENT, CSM, MANAGER, Harness, write_config

INTRO_AT = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
AGENT = ("Agent", "onboarding@example.com")


def reviewing(tmp_path: Path, review: str = 'templates = ["recap"]') -> Harness:
    cfg = write_config(tmp_path)
    cfg.write_text(cfg.read_text().replace("[review]\ntemplates = []", f"[review]\n{review}"))
    h = Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
    h.add_deal()
    h.meeting("intro", "Acme Radio introduction call", INTRO_AT, description="Agreed: go-live 15 January.")
    h.run()
    h.at(INTRO_AT + timedelta(hours=1))
    h.run()
    return h


def review_request(h: Harness) -> EmailMessage:
    [request] = [m for m in h.sent() if "Review before it goes" in m["Subject"]]
    return request


def answer(h: Harness, text: str, who: tuple[str, str] = CSM) -> None:
    request = review_request(h)
    h.mail(
        who,
        [AGENT],
        f"Re: {request['Subject']}",
        text,
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
    )
    h.run()


def status(h: Harness, template: str) -> str:
    [email] = [e for e in h.show(1)["emails"] if e["template"] == template]
    return str(email["status"])


def test_the_recap_waits_for_the_csm_and_send_sends_it_as_it_is(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    request = review_request(h)
    assert request["To"].addresses[0].addr_spec == CSM[1]  # the Responsible person of the stage's tasks
    body = request.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "Agreed: go-live 15 January." in body and "jane@acme-radio.example" in body
    assert status(h, "recap") == "review" and h.stage(1) == "set-up"  # the deal moves on meanwhile
    answer(h, "send\n\nSam")
    assert status(h, "recap") == "sent"
    recap = h.sent()[-1]
    assert "Agreed: go-live 15 January." in recap.get_body(("plain",)).get_content()  # type: ignore[union-attr]


def test_an_edited_reply_is_what_goes_out(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    # the documented form of an edit (docs/replies.md): free text alone is asked about, never sent
    answer(
        h,
        "Edit:\nHi Jane,\n\nThanks for the call! We agreed on <go-live> on 20 January.\n\nSam\n\n"
        "On Tue, Agent wrote:\n> This email for Acme Radio is ready to go",
    )
    recap = h.sent()[-1]
    assert recap["To"].addresses[0].addr_spec == CLIENT[1]
    text = recap.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    assert "20 January" in text and "15 January" not in text and "This email for" not in text
    assert "&lt;go-live&gt; on 20 January" in recap.get_body(("html",)).get_content()  # type: ignore[union-attr]


def test_cancel_drops_the_draft(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    answer(h, "cancel")
    h.at(INTRO_AT + timedelta(days=3))
    h.run()
    assert status(h, "recap") == "withdrawn"
    assert not any(m["Subject"].startswith("Recap") for m in h.sent())


def test_only_the_reviewer_asked_decides(tmp_path: Path) -> None:
    h = reviewing(tmp_path)
    answer(h, "send", who=MANAGER)
    assert status(h, "recap") == "review"
    assert any(e["kind"] == "review_refused" for e in h.show(1)["events"])


@pytest.mark.parametrize(("on_timeout", "expected"), [("send", "sent"), ("drop", "withdrawn")])
def test_no_answer_in_time_sends_or_drops_as_configured(
    tmp_path: Path, on_timeout: str, expected: str
) -> None:
    h = reviewing(tmp_path, f'templates = ["recap"]\nanswer_within_hours = 4\non_timeout = "{on_timeout}"')
    h.at(INTRO_AT + timedelta(hours=4, minutes=59))
    h.run()
    assert status(h, "recap") == "review"
    h.at(INTRO_AT + timedelta(hours=5, minutes=1))
    h.run()
    assert status(h, "recap") == expected


def test_review_is_configured_per_csm(tmp_path: Path) -> None:
    h = reviewing(tmp_path, f'templates = ["recap"]\nper_csm = {{ "{CSM[1]}" = [] }}')
    assert status(h, "recap") == "sent"  # Sam reviews nothing
    assert not any("Review before it goes" in m["Subject"] for m in h.sent())


def test_reaction_time_counts_from_the_reviewers_answer_not_from_the_draft(tmp_path: Path) -> None:
    from agent.health import metrics_text, status_data

    h = reviewing(tmp_path, 'templates = ["recap"]\nanswer_within_hours = 48')
    request = review_request(h)
    h.at(INTRO_AT + timedelta(hours=5))  # the CSM answers four hours after the draft was made
    h.mail(
        CSM,
        [AGENT],
        f"Re: {request['Subject']}",
        "send",
        headers={"In-Reply-To": request["Message-ID"], "References": request["Message-ID"]},
    )
    h.at(INTRO_AT + timedelta(hours=5, seconds=3))  # the agent sees it three seconds after it arrived
    h.run()
    assert status(h, "recap") == "sent"
    data = status_data(h.config, h.agent.sessions, h.clock.now())["latency"]
    # the review request went the moment the call's completion came due (0 s); the recap 3 s after
    # the answer arrived, not the 4 hours the draft waited for a person
    assert (data["count"], data["p50"], data["max"]) == (2, 0.0, 3.0)
    metrics = metrics_text(status_data(h.config, h.agent.sessions, h.clock.now()))
    assert 'csm_agent_action_latency_seconds{quantile="1"} 3.0' in metrics
    assert "csm_agent_actions_24h 2" in metrics
