"""Which rules fire, and why: the pure core over the shipped pipelines."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.businesstime import BusinessCalendar
from agent.domain import Address, DealView, Participant
from agent.pipeline.actions import MoveStage, Raci, SendEmail, plan, resolve
from agent.pipeline.engine import DealFacts, Trigger, evaluate
from agent.pipeline.loader import LoadResult, load_pipelines
from agent.pipeline.schema import TRIGGER_KINDS

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def shipped() -> LoadResult:
    return load_pipelines(ROOT / "rules")


def fired(result: LoadResult, pipeline: str, trigger: Trigger, **facts: object) -> list[str]:
    f = DealFacts(**facts)  # type: ignore[arg-type]
    return [x.rule for x in evaluate(result.pipelines[pipeline], trigger, f)]


def test_meeting_completed_fires_the_rule_for_that_meeting_type_only(shipped: LoadResult) -> None:
    t = Trigger("meeting_completed", "introduction-call")
    assert fired(shipped, "standard-onboarding", t, stage="introduction-call") == ["recap-after-intro"]
    t = Trigger("meeting_completed", "learner-launch")
    assert fired(shipped, "standard-onboarding", t, stage="training") == ["survey-after-final-call"]
    assert (
        fired(shipped, "standard-onboarding", Trigger("meeting_completed", "unknown"), stage="training") == []
    )


def test_hybrid_deal_moves_only_when_both_departments_calls_are_done(shipped: LoadResult) -> None:
    t = Trigger("meeting_completed", "cs-onboarding")
    one = fired(
        shipped,
        "hybrid-onboarding",
        t,
        stage="onboarding",
        meetings_completed=frozenset({"cs-onboarding"}),
    )
    assert one == ["cs-call-held"]
    both = fired(
        shipped,
        "hybrid-onboarding",
        t,
        stage="onboarding",
        meetings_completed=frozenset({"cs-onboarding", "fmc-onboarding"}),
    )
    assert both == ["cs-call-held", "both-departments-done"]


def test_conditions_are_explained_in_the_reason(shipped: LoadResult) -> None:
    p = shipped.pipelines["standard-onboarding"]
    [firing] = evaluate(
        p,
        Trigger("deal_created", "", "handed over"),
        DealFacts(stage="customer-brief", roles_filled=frozenset({"client_contacts", "csm"})),
    )
    assert firing.rule == "brief-checked"
    assert firing.reason == "rule brief-checked: handed over (deal has client_contacts, csm)"
    assert (
        evaluate(
            p, Trigger("deal_created"), DealFacts(stage="customer-brief", roles_filled=frozenset({"csm"}))
        )
        == []
    )


def test_timer_triggers_fire_only_the_rule_they_were_set_for(shipped: LoadResult) -> None:
    t = Trigger("no_reply_to", "nudge-no-reply")
    assert fired(shipped, "standard-onboarding", t, stage="introduction-call") == ["nudge-no-reply"]
    assert fired(shipped, "standard-onboarding", t, stage="set-up") == []  # if: stage
    booked = fired(
        shipped,
        "standard-onboarding",
        t,
        stage="introduction-call",
        meetings_booked=frozenset({"introduction-call"}),
    )
    assert booked == []  # if: no_meeting
    assert fired(shipped, "standard-onboarding", Trigger("no_reply_to", "stuck"), stage="set-up") == []


def test_a_rule_listens_only_to_triggers_of_its_own_kind(shipped: LoadResult) -> None:
    # The rules are looked up by the kind of the trigger: a timer naming a rule of another kind,
    # or a message naming a meeting type, fires nothing.
    assert (
        fired(
            shipped,
            "standard-onboarding",
            Trigger("in_stage_for", "nudge-no-reply"),
            stage="introduction-call",
        )
        == []
    )
    assert (
        fired(
            shipped,
            "standard-onboarding",
            Trigger("message_received", "introduction-call"),
            stage="introduction-call",
        )
        == []
    )
    for pipeline in shipped.pipelines.values():
        for kind in TRIGGER_KINDS:
            assert list(pipeline.rules_on(kind)) == [r for r in pipeline.rules if r.when.kind == kind]
        assert sum(len(pipeline.rules_on(kind)) for kind in TRIGGER_KINDS) == len(pipeline.rules)


DEAL = DealView(
    id=1,
    name="Acme",
    pipeline="standard-onboarding",
    stage="introduction-call",
    token="T",
    client_domains=(),
    timezone="Europe/London",
    people=(
        Participant("jane@acme.example", "Jane", "client_admin", False),
        Participant("bob@acme.example", "Bob", "client_sponsor", False),
        Participant("sam@example.com", "Sam", "csm", True),
        Participant("olivia@example.com", "Olivia", "onboarding_manager", True),
    ),
)


def test_recipients_resolve_roles_raci_letters_and_addresses() -> None:
    raci = Raci(responsible=("csm",), accountable=("onboarding_manager",), informed=("account_manager",))
    to, missing = resolve(["client_contacts"], DEAL, raci)
    assert [a.email for a in to] == ["jane@acme.example", "bob@acme.example"]
    cc, missing = resolve(["csm", "accountable", "informed", "x@y.example", "csm"], DEAL, raci)
    assert [a.email for a in cc] == ["sam@example.com", "olivia@example.com", "x@y.example"]
    assert missing == ("informed",)  # nobody fills account_manager on this deal


def test_send_after_business_day_at_a_time_of_day(shipped: LoadResult) -> None:
    from agent.pipeline.schema import ActionDef

    action = ActionDef.model_validate({"send": "survey", "after": "1 business day", "at": "10:00"})
    friday = datetime(2026, 12, 4, 16, 0, tzinfo=UTC)
    effect = plan(
        action,
        deal=DEAL,
        raci=Raci(),
        pipeline=shipped.pipelines["standard-onboarding"],
        now=friday,
        calendar=BusinessCalendar(),
    )
    assert isinstance(effect, SendEmail)
    # one business day after Friday 16:00 is Monday; at 10:00 London that day
    assert effect.due_at == datetime(2026, 12, 7, 10, 0, tzinfo=UTC)
    assert effect.to == (Address("jane@acme.example", "Jane"), Address("bob@acme.example", "Bob"))


def test_advance_next_and_past_the_last_stage(shipped: LoadResult) -> None:
    from agent.pipeline.schema import ActionDef

    p = shipped.pipelines["standard-onboarding"]
    action = ActionDef.model_validate({"advance": "next"})
    now = datetime(2026, 12, 4, tzinfo=UTC)
    assert plan(
        action, deal=DEAL, raci=Raci(), pipeline=p, now=now, calendar=BusinessCalendar()
    ) == MoveStage("set-up")
    last = DealView(**{**DEAL.__dict__, "stage": "won"})
    assert plan(action, deal=last, raci=Raci(), pipeline=p, now=now, calendar=BusinessCalendar()) is None


@pytest.mark.parametrize(
    ("text", "score"),
    [
        ("5", 5),
        ("4/5 - good", 4),
        ("Rating: 3", 3),
        ("  10/10!", 10),
        ("5 - it went well", 5),
        ("We have 3 more questions", None),
        ("On 2 March you wrote", None),
        ("", None),
        ("3.5", None),
        ("0", 0),
        ("Nine out of ten", 9),
        ("five!", 5),
        ("Four. The training was great", 4),
        ("I'd say 8", 8),
        ("My score is 7/10", 7),
        ("Fivefold thanks", None),
        ("One more thing: the invoice", None),
        ("Two questions about the setup", None),
    ],
)
def test_csat_is_read_only_from_the_start_of_a_reply(text: str, score: int | None) -> None:
    from agent.handling.mail.csat import csat_score as _csat

    assert _csat(text) == score


def test_an_issue_is_routed_by_its_severity_and_its_kind(shipped: LoadResult) -> None:
    critical = Trigger("issue_reported", "critical")
    assert fired(shipped, "hybrid-onboarding", critical, stage="onboarding", issue_kind="integration") == [
        "integration-to-product-support",
        "issue-to-csm-team-lead",
    ]
    assert fired(shipped, "hybrid-onboarding", critical, stage="onboarding", issue_kind="bug") == [
        "issue-to-csm-team-lead"
    ]
    low = Trigger("issue_reported", "low")
    assert fired(shipped, "hybrid-onboarding", low, stage="adoption", issue_kind="maintenance") == [
        "issue-to-channel"
    ]
