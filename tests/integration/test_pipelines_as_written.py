"""The three shipped processes, each followed end to end through the agent's public ways in, and held
against the document it is written from (issue 19, A, B, C):

- learning-platform-onboarding: the learning platform's RACI matrix (seeds/000),
- standard-onboarding: the 7-stage "Onboarding Pipeline" (seeds/001),
- project-onboarding: the "Manage Onboarding Projects" SuccessBLOC (seeds/002), with its plays.

Each test hands a deal over, books and holds the calls, has the client and our people write as they
would (a client's task done by a reply, an approval, a Consulted person's answer, a survey score,
a command to the agent), and asserts the stage path, the tasks and their R/A/C/I, the emails each
party got and when.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, timedelta
from email.message import EmailMessage
from typing import Any

from agent.deals import ContactSpec
from tests.conftest import ACCOUNT_MANAGER, CLIENT, CSM, MANAGER, Harness

MONDAY = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)  # London is on UTC in winter: times read as they are
SPONSOR = ("Bob Stone", "bob@acme-radio.example")
PROGRAMME = ("Priya Shah", "priya@acme-radio.example")
IT = ("Ian Tech", "ian@acme-radio.example")
SPECIALIST = ("Riley Park", "riley@example.com")
ENGINEER = ("Morgan Lee", "morgan@example.com")
PROVISIONING = ("Pat Quinn", "pat@example.com")


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """The day-th day after Monday 30 November 2026, at that time (UTC)."""
    return (MONDAY + timedelta(days=day)).replace(hour=hour, minute=minute)


# --- what the agent did ------------------------------------------------------------------------
def emails(h: Harness, deal: int, template: str) -> list[dict[str, Any]]:
    return [e for e in h.show(deal)["emails"] if e["template"] == template]


def got(h: Harness, deal: int, template: str) -> list[tuple[list[str], list[str]]]:
    """(To, Cc) of each email of the template on the deal, in the order they were queued."""
    return [(e["to"], e["cc"]) for e in emails(h, deal, template)]


def sent_at(h: Harness, deal: int, template: str) -> list[str]:
    return [e["sent_at"] for e in emails(h, deal, template)]


def message(h: Harness, deal: int, template: str, to: str) -> EmailMessage:
    """The last email of the template sent to `to`, as the reader's mail program has it."""
    ids = {e["message_id"] for e in emails(h, deal, template) if e["to"][0] == to}
    found = [m for m in h.sent() if m["Message-ID"] in ids]
    assert found, f"no {template} sent to {to}"
    return found[-1]


def body(msg: EmailMessage) -> str:
    part = msg.get_body(("plain",))
    assert part is not None
    return str(part.get_content()).replace("\r\n", "\n")


def raci(h: Harness, deal: int) -> dict[str, tuple[str, str, list[str], list[str]]]:
    return {t["id"]: (t["R"], t["A"], t["C"], t["I"]) for t in h.show(deal)["tasks"]}


def task(h: Harness, deal: int, key: str) -> dict[str, Any]:
    return next(t for t in h.show(deal)["tasks"] if t["id"] == key)


def events(h: Harness, deal: int, kind: str) -> list[dict[str, Any]]:
    return [e for e in h.show(deal)["events"] if e["kind"] == kind]


def path(h: Harness, deal: int) -> list[str]:
    return [s["stage"] for s in h.show(deal)["stage_history"]]


# --- what people do ----------------------------------------------------------------------------
def reply(h: Harness, who: tuple[str, str], deal: int, to: EmailMessage, text: str) -> None:
    """`who` answers the agent's email in its thread, to the deal's address (its Reply-To)."""
    h.mail(
        who,
        [("Onboarding", h.reply_address(deal))],
        f"Re: {to['Subject']}",
        f"{text}\n\nOn Monday, the agent wrote:\n> {body(to).splitlines()[0]}",
        headers={"In-Reply-To": str(to["Message-ID"]), "References": str(to["Message-ID"])},
    )
    h.run()


def tell_agent(h: Harness, who: tuple[str, str], deal: int, command: str) -> None:
    """One of ours writes a command to the agent ("done TASK", "advance to STAGE")."""
    h.mail(who, [("Onboarding", h.reply_address(deal))], "Acme Radio", f"{command}\n\n{who[0]}")
    h.run()


def call(h: Harness, name: str, title: str, start: datetime, attendees: Iterable[str]) -> None:
    """A 45-minute call booked now, then held: the clock ends 20 minutes after it (past the grace)."""
    h.meeting(name, title, start, 45, attendees=tuple(attendees))
    h.run()
    h.at(start + timedelta(minutes=65))
    h.run()


# --- C: the Manage-Onboarding-Projects SuccessBLOC (seeds/002) ----------------------------------
def project_deal(h: Harness) -> int:
    deal = h.add_deal(
        pipeline="project-onboarding",
        roles={
            "csm": CSM,
            "project_manager": MANAGER,
            "solutions_engineer": ENGINEER,
            "account_manager": ACCOUNT_MANAGER,
        },
        contacts=[ContactSpec(*CLIENT, "client_project_lead"), ContactSpec(*IT, "client_it")],
    )
    h.run()
    return deal


def test_the_successbloc_runs_on_plays_from_kick_off_to_live(harness: Harness) -> None:
    h = harness
    deal = project_deal(h)
    # the "new user welcome" campaign: each client contact, once
    assert got(h, deal, "welcome") == [([CLIENT[1]], []), ([IT[1]], [])]
    [started] = events(h, deal, "play_started")
    assert started["reason"] == "play Internal Handover: sales-handover, update-account-record"

    # Internal Handover: the Sales to CS handover meeting, and the account record updated
    call(h, "handover", "Acme Radio sales handover", at(1, 10), [ACCOUNT_MANAGER[1], CSM[1]])
    assert task(h, deal, "sales-handover")["status"] == "done"
    assert h.stage(deal) == "kick-off"  # the play has a task left: its end moves the stage, not a task
    tell_agent(h, CSM, deal, "done update-account-record")
    [ended] = events(h, deal, "play_completed")
    assert ended["rule"] == "internal-handover.on_complete"
    assert ended["reason"] == "play Internal Handover: its last task, update-account-record, is done"
    moved = [e for e in events(h, deal, "stage_changed") if e["rule"] == "internal-handover.on_complete"]
    assert [e["details"]["to_stage"] for e in moved] == ["business-discovery"]

    # Business Discovery: its play started with the stage; the client's project lead is consulted
    assert [e["reason"].split(":")[0] for e in events(h, deal, "play_started")] == [
        "play Internal Handover",
        "play Business Discovery",
    ]
    consult = message(h, deal, "consult", CLIENT[1])
    assert "What would make this project a success for you, and by when?" in body(consult)
    reply(h, CLIENT, deal, consult, "Everyone scheduling on the platform by March.")
    [answer] = task(h, deal, "discovery-call")["consulted_answers"]
    assert (answer["email"], answer["answer"]) == (CLIENT[1], "Everyone scheduling on the platform by March.")
    call(h, "discovery", "Acme Radio discovery call", at(2, 10), [CLIENT[1], IT[1]])
    [(to, cc)] = got(h, deal, "recap")
    assert to == [CLIENT[1], IT[1]] and cc == [CSM[1], ACCOUNT_MANAGER[1]]  # the CSM and the Informed
    # the success plan: the CSM's, approved by the Project Manager (A) before implementation starts
    tell_agent(h, CSM, deal, "done success-plan")
    assert task(h, deal, "success-plan")["status"] == "awaiting_approval"
    assert h.stage(deal) == "business-discovery"
    request = message(h, deal, "task-approval", MANAGER[1])
    reply(h, MANAGER, deal, request, "Approved.")
    assert task(h, deal, "success-plan")["approved_by"] == MANAGER[1]

    # Implementation, one play per implementation stage: each one's end moves its stage on
    assert h.stage(deal) == "integration"
    tell_agent(h, ENGINEER, deal, "done build-integration")
    assert h.stage(deal) == "configuration"
    tell_agent(h, CSM, deal, "done configure-account")
    assert h.stage(deal) == "training-uat"
    h.at(at(3, 9))
    call(h, "training", "Acme Radio training", at(3, 10), [CLIENT[1]])
    # the UAT sign-off is the client's to-do: emailed once the training is done, and done by a reply
    signoff = message(h, deal, "client-task", CLIENT[1])
    assert str(signoff["Subject"]).startswith(
        "For you: Test the account and sign it off (by Thursday 10 December)"
    )
    assert "Your team tries the configured account with real work" in body(signoff)  # its description
    h.at(at(4, 9))
    reply(h, CLIENT, deal, signoff, "Done, thanks!")
    assert task(h, deal, "uat-signoff")["done_by"].startswith(CLIENT[1])
    assert h.stage(deal) == "live"

    assert path(h, deal) == [
        "kick-off",
        "business-discovery",
        "integration",
        "configuration",
        "training-uat",
        "live",
    ]
    plays = [e["rule"] for e in events(h, deal, "play_completed")]
    assert plays == [
        "internal-handover.on_complete",
        "business-discovery.on_complete",
        "implementation-integration.on_complete",
        "implementation-configuration.on_complete",
        "implementation-training-uat.on_complete",
    ]
    assert raci(h, deal) == {
        "sales-handover": ("account_manager", "csm", [], []),
        "update-account-record": ("csm", "project_manager", [], []),
        "discovery-call": ("csm", "project_manager", ["client_project_lead"], ["account_manager"]),
        "success-plan": ("csm", "project_manager", [], ["client_project_lead", "account_manager"]),
        "build-integration": ("solutions_engineer", "project_manager", ["client_it"], ["csm"]),
        "configure-account": ("csm", "project_manager", ["client_project_lead"], []),
        "train-users": ("csm", "project_manager", [], ["account_manager"]),
        "uat-signoff": ("client_project_lead", "csm", [], ["account_manager"]),
    }
    assert task(h, deal, "update-account-record")["description"] == (
        "Upload the contract file, update the key contacts, fill in the onboarding attributes"
    )

    # the "Post Onboarding CSAT survey" campaign: each contact, the next business day (live on a
    # Friday: Monday) at 10:00
    h.at(at(7, 9, 59))
    h.run()
    assert sent_at(h, deal, "survey") == [None, None]
    h.at(at(7, 10))
    h.run()
    assert sorted(to[0] for to, _ in got(h, deal, "survey")) == sorted([CLIENT[1], IT[1]])
    assert got(h, deal, "welcome") == [([CLIENT[1]], []), ([IT[1]], [])]  # never twice


def test_live_is_the_end_stage_its_clock_stops_and_leaving_it_restarts_it(harness: Harness) -> None:
    h = harness
    deal = h.add_deal(
        pipeline="project-onboarding",
        stage="configuration",
        roles={"csm": CSM, "project_manager": MANAGER},
        contacts=[ContactSpec(*CLIENT, "client_project_lead")],
    )
    h.run()
    h.at(at(1, 9))
    tell_agent(h, CSM, deal, "done configure-account")
    call(h, "training", "Acme Radio training", at(1, 10), [CLIENT[1]])
    h.at(at(2, 9))
    reply(h, CLIENT, deal, message(h, deal, "client-task", CLIENT[1]), "Done")
    assert h.stage(deal) == "live"
    onboarding = h.show(deal)["total_onboarding_seconds"]
    assert onboarding == (at(2, 9) - MONDAY).total_seconds()
    h.at(at(30, 9))  # four weeks live: not onboarding time
    assert h.show(deal)["total_onboarding_seconds"] == onboarding
    h.advance(deal, "training-uat")  # a person takes it back: the clock runs again
    h.at(at(32, 9))
    assert h.show(deal)["total_onboarding_seconds"] == onboarding + 2 * 86400
    assert h.show(deal)["time_in_stage_seconds"]["live"] == 28 * 86400


def test_a_contact_added_later_is_welcomed_when_the_deal_next_enters_a_stage(harness: Harness) -> None:
    from agent.store import models as m
    from agent.store.repo import Repo

    h = harness
    deal = project_deal(h)
    with h.agent.sessions.begin() as s:  # a colleague of the client joins
        Repo(s).add(m.Contact(deal_id=deal, name=SPONSOR[0], email=SPONSOR[1], role="client_project_lead"))
    call(h, "handover", "Acme Radio sales handover", at(1, 10), [ACCOUNT_MANAGER[1], CSM[1]])
    assert [to for to, _ in got(h, deal, "welcome")] == [[CLIENT[1]], [IT[1]]]
    tell_agent(h, CSM, deal, "done update-account-record")  # on to Business Discovery
    assert [to for to, _ in got(h, deal, "welcome")] == [[CLIENT[1]], [IT[1]], [SPONSOR[1]]]


# --- A: the learning platform's RACI matrix (seeds/000) ------------------------------------------
def learning_deal(h: Harness) -> int:
    deal = h.add_deal(
        pipeline="learning-platform-onboarding",
        roles={"account_manager": ACCOUNT_MANAGER, "onboarding_specialist": SPECIALIST, "csm": CSM},
        contacts=[
            ContactSpec(*CLIENT, "client_admin"),
            ContactSpec(*PROGRAMME, "client_program_manager"),
            ContactSpec(*SPONSOR, "client_sponsor"),
        ],
        contract_start=date(2026, 11, 30),
    )
    h.run()
    return deal


CLIENTS = [CLIENT[1], PROGRAMME[1], SPONSOR[1]]


def test_the_learning_platform_onboarding_follows_its_raci_matrix(harness: Harness) -> None:
    h = harness
    deal = learning_deal(h)
    assert h.stage(deal) == "introduction"
    # action 1 is the Account Manager's (R, A): the email asking for the call comes from them
    assert got(h, deal, "team-intro") == [(CLIENTS, [ACCOUNT_MANAGER[1]])]
    intro = message(h, deal, "team-intro", CLIENT[1])
    assert "I am Alex Reed" in body(intro) and "Riley Park, your Onboarding Specialist" in body(intro)
    # action 2, "ASAP after the contract start" (five business days): the Admin's, emailed to them alone
    assert got(h, deal, "client-task") == [([CLIENT[1]], [CSM[1]])]
    watch = message(h, deal, "client-task", CLIENT[1])
    assert str(watch["Subject"]).startswith(
        "For you: Watch the self-serve set-up material (by Monday 7 December)"
    )
    assert "A prerequisite for meeting your Onboarding Specialist" in body(watch)

    # action 1 held: its recap goes to the client, the Account Manager and the Informed; the move on
    # waits for action 2 ("a prerequisite for meeting the onboarding specialist")
    call(h, "intro", "Acme Radio introduction call", at(1, 14), CLIENTS)
    [(to, cc)] = got(h, deal, "recap")
    assert to == CLIENTS and cc == [ACCOUNT_MANAGER[1], SPECIALIST[1], CSM[1]]
    assert h.stage(deal) == "introduction"
    [waiting] = events(h, deal, "stage_move_waiting")
    assert waiting["details"]["waiting_for"] == ["watch-set-up-material"]
    # the Admin says done; the Onboarding Specialist (A) approves: then the deal moves on
    h.at(at(2, 10))
    reply(h, CLIENT, deal, watch, "Done")
    assert task(h, deal, "watch-set-up-material")["status"] == "awaiting_approval"
    assert got(h, deal, "task-approval") == [([SPECIALIST[1]], [])]
    reply(h, SPECIALIST, deal, message(h, deal, "task-approval", SPECIALIST[1]), "Approved")
    assert h.stage(deal) == "learning-paths"

    # action 3, after the introduction call
    call(h, "paths", "Acme Radio learning path call", at(3, 10), CLIENTS)
    assert h.stage(deal) == "set-up"
    # action 4, the client's own set-up (R and A the Admin's): due five business days after action 3
    setup = message(h, deal, "client-task", CLIENT[1])
    assert str(setup["Subject"]).startswith("For you: Set up learning paths, teams and users on the platform")
    assert task(h, deal, "set-up-users")["due_at"] == "2026-12-10T11:05:00+00:00"
    # action 5, after action 3; Set-Up waits for the client's set-up
    call(h, "pre-launch", "Acme Radio pre-launch call", at(7, 10), CLIENTS)
    assert h.stage(deal) == "set-up"
    # the weekly news: the Informed (ours and the client's) get the digest, the Admin their plan
    digests = sorted(to[0] for to, _ in got(h, deal, "informed-digest"))
    assert digests == sorted([PROGRAMME[1], SPONSOR[1], SPECIALIST[1], CSM[1], ACCOUNT_MANAGER[1]])
    assert got(h, deal, "client-plan") == [([CLIENT[1]], [])]
    # the Admin is reminded a business day before the due date
    h.at(at(9, 11, 4))
    h.run()
    assert got(h, deal, "task-reminder") == []
    h.at(at(9, 11, 5))
    h.run()
    assert got(h, deal, "task-reminder") == [([CLIENT[1]], [])]
    reply(h, CLIENT, deal, message(h, deal, "task-reminder", CLIENT[1]), "Done, thanks!")
    assert h.stage(deal) == "launch"

    # action 6: the client is Consulted (asked) before the learner launch; action 7 in either order
    ask = message(h, deal, "consult", CLIENT[1])
    assert "What completion date have you set for your learners" in body(ask)
    reply(h, CLIENT, deal, ask, "31 March; all 40 learners.")
    assert [a["answer"] for a in task(h, deal, "learner-launch")["consulted_answers"]] == [
        "31 March; all 40 learners."
    ]
    call(h, "reporting", "Acme Radio reporting and engagement tour", at(10, 10), CLIENTS)
    assert h.stage(deal) == "launch"
    call(h, "launch", "Acme Radio learner launch kick-off", at(11, 10), CLIENTS)

    # actions 8 and 9, after the last onboarding call: the close names the main point of contact
    # (the CSM), the survey goes the next business day at 10:00
    assert h.stage(deal) == "close"
    [(to, cc)] = got(h, deal, "completion")
    assert to == CLIENTS and cc == [SPECIALIST[1], ACCOUNT_MANAGER[1], CSM[1]]
    assert "From here on Sam Carter stays your first contact" in body(
        message(h, deal, "completion", CLIENT[1])
    )
    assert task(h, deal, "close-onboarding")["status"] == "done"
    h.at(at(14, 10))  # Friday's close: Monday
    h.run()
    assert sorted(to[0] for to, _ in got(h, deal, "survey")) == sorted(CLIENTS)
    assert sent_at(h, deal, "survey") == ["2026-12-14T10:00:00+00:00"] * 3
    reply(h, PROGRAMME, deal, message(h, deal, "survey", PROGRAMME[1]), "5 - very good")
    assert h.stage(deal) == "onboarded"

    assert path(h, deal) == ["introduction", "learning-paths", "set-up", "launch", "close", "onboarded"]
    # each action's R, A, C, I as the matrix writes them (and the head of the file decides)
    assert raci(h, deal) == {
        "intro-call": (
            "account_manager",
            "account_manager",
            [],
            ["client_sponsor", "client_program_manager", "onboarding_specialist", "csm"],
        ),
        "watch-set-up-material": ("client_admin", "onboarding_specialist", [], []),
        "learning-path-call": (
            "onboarding_specialist",
            "onboarding_specialist",
            [],
            ["client_program_manager", "account_manager", "csm"],
        ),
        "set-up-users": ("client_admin", "client_admin", ["onboarding_specialist"], []),
        "pre-launch-call": ("onboarding_specialist", "onboarding_specialist", [], ["client_program_manager"]),
        "learner-launch": (
            "onboarding_specialist",
            "onboarding_specialist",
            ["client_admin"],
            ["account_manager", "csm"],
        ),
        "reporting-tour": (
            "onboarding_specialist",
            "onboarding_specialist",
            [],
            ["client_program_manager", "account_manager", "csm"],
        ),
        "post-onboarding-survey": (
            "onboarding_specialist",
            "onboarding_specialist",
            [],
            ["client_program_manager"],
        ),
        "close-onboarding": (
            "onboarding_specialist",
            "onboarding_specialist",
            [],
            ["client_sponsor", "client_program_manager", "account_manager", "csm"],
        ),
    }
    # the client was never sent our internal requests: no approval, escalation or reminder of ours
    ours = ("task-approval", "task-escalation", "review-request", "notice")
    client_got = {e["template"] for e in h.show(deal)["emails"] if set(e["to"]) & set(CLIENTS)}
    assert not client_got & set(ours), client_got


# --- B: the 7-stage onboarding pipeline (seeds/001) ---------------------------------------------
def test_the_standard_onboarding_follows_the_seven_stages_as_written(harness: Harness) -> None:
    h = harness
    deal = h.add_deal(
        roles={
            "csm": CSM,
            "onboarding_manager": MANAGER,
            "account_manager": ACCOUNT_MANAGER,
            "provisioning": PROVISIONING,
        },
    )
    h.run()
    # Stage 1: the onboarding lead's review and the CSM's assignment, seen in the hand-over itself
    assert [
        (t["id"], t["status"], t["R"]) for t in h.show(deal)["tasks"] if t["stage"] == "customer-brief"
    ] == [
        ("review-brief", "done", "onboarding_manager"),
        ("assign-csm", "done", "onboarding_manager"),
    ]
    # Stage 2: the CSM's intro email schedules the call; its recap gives the links and what comes next
    assert got(h, deal, "intro") == [([CLIENT[1]], [CSM[1]])]
    call(h, "intro", "Acme Radio introduction call", at(1, 14), [CLIENT[1]])
    [(to, cc)] = got(h, deal, "recap")
    assert to == [CLIENT[1]] and cc == [CSM[1], ACCOUNT_MANAGER[1]]
    recap = body(message(h, deal, "recap", CLIENT[1]))
    assert "- You send us the information on your stations and the users to train." in recap
    assert "Getting started: https://help.example.com/getting-started" in recap
    assert h.stage(deal) == "set-up"

    # Stage 3 (item 2): the client sends their stations and users; the CSM has them, sends the
    # station details to Provisioning, who creates the entities; the CSM creates the training users
    h.at(at(2, 10))
    h.mail(
        CLIENT, [("Onboarding", h.reply_address(deal)), CSM], "Our stations", "KXYZ and KABC; users attached."
    )
    h.run()
    tell_agent(h, CSM, deal, "done receive-set-up-info")
    tell_agent(h, CSM, deal, "done send-station-details")
    tell_agent(h, PROVISIONING, deal, "done create-entities")
    tell_agent(h, CSM, deal, "done create-training-users")
    assert h.stage(deal) == "set-up"  # the training is not scheduled yet
    # booking the training with the client schedules it: Set-Up's last task; on to Training
    h.meeting("training", "Acme Radio training", at(3, 10), 60, attendees=(CLIENT[1],))
    h.meeting("launch", "Acme Radio learner launch", at(8, 10), 60, attendees=(CLIENT[1],))
    h.run()
    assert h.stage(deal) == "training"

    # Stage 4 (item 3): the training sessions; the last one ends Training
    h.at(at(3, 11, 20))
    h.run()
    assert len(got(h, deal, "recap")) == 2 and h.stage(deal) == "training"
    h.at(at(8, 11, 20))
    h.run()
    # Stage 5 (item 4): the completion email to the users, the survey the next business day at 10:00
    assert h.stage(deal) == "post-training-cs"
    assert got(h, deal, "completion") == [([CLIENT[1]], [CSM[1], ACCOUNT_MANAGER[1]])]
    completion = body(message(h, deal, "completion", CLIENT[1]))
    assert "Help centre: https://help.example.com/getting-started" in completion  # links to resources
    assert "On Wednesday 9 December we will send you a one-question survey" in completion
    assert task(h, deal, "send-completion")["status"] == "done"
    h.at(at(9, 10))
    h.run()
    assert sent_at(h, deal, "survey") == ["2026-12-09T10:00:00+00:00"]
    reply(h, CLIENT, deal, message(h, deal, "survey", CLIENT[1]), "4 - good, thanks")

    # Stage 6 has no content: the agent adds no task and no move; it tells Sales the deal is theirs
    assert h.stage(deal) == "post-training-sales"
    assert [t for t in h.show(deal)["tasks"] if t["stage"] == "post-training-sales"] == []
    assert got(h, deal, "notice")[-1] == ([ACCOUNT_MANAGER[1]], [])
    h.at(at(15, 10))
    h.run()
    assert h.stage(deal) == "post-training-sales"  # a week later: still Sales' to move
    tell_agent(h, ACCOUNT_MANAGER, deal, "advance to won")
    assert h.stage(deal) == "won"

    assert path(h, deal) == [
        "customer-brief",
        "introduction-call",
        "set-up",
        "training",
        "post-training-cs",
        "post-training-sales",
        "won",
    ]
    assert raci(h, deal) == {
        "review-brief": ("onboarding_manager", "onboarding_manager", [], ["account_manager"]),
        "assign-csm": ("onboarding_manager", "onboarding_manager", [], []),
        "schedule-intro": ("csm", "onboarding_manager", [], ["account_manager"]),
        "hold-intro": ("csm", "onboarding_manager", ["client_admin"], ["account_manager"]),
        "receive-set-up-info": ("csm", "onboarding_manager", ["client_admin"], []),
        "send-station-details": ("csm", "onboarding_manager", [], ["provisioning"]),
        "create-entities": ("provisioning", "csm", [], []),
        "create-training-users": ("csm", "onboarding_manager", [], []),
        "schedule-training": ("csm", "onboarding_manager", ["client_admin"], []),
        "deliver-training": ("csm", "onboarding_manager", [], ["account_manager"]),
        "send-completion": ("csm", "onboarding_manager", [], ["account_manager"]),
        "collect-csat": ("csm", "onboarding_manager", [], []),
    }
    assert all(t["status"] == "done" for t in h.show(deal)["tasks"])  # Won with nothing left open
    # what the client got, in order: nothing of ours (no notice, approval or reminder)
    to_client = [e["template"] for e in h.show(deal)["emails"] if CLIENT[1] in e["to"]]
    assert to_client == ["intro", "recap", "recap", "completion", "survey"]
