"""What a deal carries (issue 19, part B): the attributes its pipeline requires, listed and reported
missing at hand-over; its entities; its signed contract, emailed to the deal's own address.

The pipeline is tests/data/pipelines/station-onboarding.yaml: it requires contract_start,
contract_end, payment_type, products, entities, contract_document, a client_admin contact and a
custom `region`.
"""

from __future__ import annotations

import itertools
import shutil
from collections.abc import Iterator
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path

import pytest

from agent.clock import ManualClock
from agent.deals import ContactSpec
from agent.store import models as m
from tests.conftest import CSM, MONDAY, ROOT, Harness
from tests.integration.cli_helpers import as_json, run
from tests.integration.station import PIPELINE, station_config, station_world

HEADER = (
    "deal,pipeline,contact_name,contact_email,contact_role,csm,"
    "contract_start,contract_end,payment_type,products,entities,region"
)
PAT = ("Pat Alpha", "pat@alpha-fm.example")
SENT = itertools.count(1)


@pytest.fixture
def cfg(tmp_path: Path) -> Path:
    return station_config(tmp_path)


def warnings(err: str) -> list[str]:
    """The command's warnings, without the log lines that also go to stderr."""
    return [line for line in err.splitlines() if "warning: " in line]


def test_attributes_lists_what_a_pipeline_requires_and_the_csv_header_that_gives_it(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(cfg, "deals", "attributes", "--pipeline", PIPELINE, "--csv", capsys=capsys)
    assert code == 0, err
    assert (
        out == HEADER + "\n"
    )  # the signed contract comes by email: no column; client_admin is a contact_role
    [listing] = as_json(cfg, capsys, "deals", "attributes")
    by_name = {r["name"]: r for r in listing["requires"]}
    assert list(by_name) == [
        "contract_start", "contract_end", "payment_type", "products", "entities", "contract_document",
        "client_admin", "region",
    ]  # fmt: skip
    assert by_name["entities"]["option"] == "--entity" and by_name["region"]["kind"] == "attribute"
    assert by_name["region"]["description"] == "The sales region: EMEA, AMER or APAC"
    assert (
        by_name["contract_document"]["column"] == ""
        and "contract" in by_name["contract_document"]["description"]
    )
    code, out, _ = run(cfg, "deals", "attributes", capsys=capsys)
    assert f"{PIPELINE}: a deal needs" in out and "contract_document    by email" in out
    code, _, err = run(cfg, "deals", "attributes", "--pipeline", "nope", capsys=capsys)
    assert code == 2 and "pipeline 'nope': expected one of ['station-onboarding']" in err


def test_deals_add_warns_of_what_is_missing_and_creates_the_deal(
    cfg: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        cfg,
        "deals", "add", "--name", "Alpha FM", "--pipeline", PIPELINE,
        "--contact", f"{PAT[0]},{PAT[1]},client_admin", "--csm", CSM[1],
        "--role", "onboarding_manager=olivia@example.com",
        "--entity", "Alpha FM North", "--entity", "Alpha FM South", "--product", "Scheduling",
        "--contract-start", "2026-12-01", "--contract-months", "12",
        capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    assert "deal 1 Alpha FM: station-onboarding, stage kick-off" in out
    assert warnings(err) == [
        "warning: deal 1 Alpha FM: missing contract_end, payment_type, contract_document, region "
        f"(required by {PIPELINE}; see `deals attributes --pipeline {PIPELINE}`)"
    ]
    show = as_json(cfg, capsys, "deals", "show", "1")
    assert show["entities"] == ["Alpha FM North", "Alpha FM South"]
    assert show["missing_attributes"] == ["contract_end", "payment_type", "contract_document", "region"]
    assert show["contract"] == {"start": "2026-12-01", "end": None, "months": 12, "payment_type": None}
    assert show["attributes"] == {}  # entities are the deal's own, not a custom attribute
    [noted] = [e for e in show["events"] if e["kind"] == "attributes_missing"]
    assert noted["reason"] == (
        f"handed over without contract_end, payment_type, contract_document, region (required by {PIPELINE})"
    )
    code, text, _ = run(cfg, "deals", "show", "1", capsys=capsys)
    assert "  entities: Alpha FM North, Alpha FM South" in text
    assert "  contract: 2026-12-01 to ?, 12 months" in text
    assert (
        "  missing: contract_end, payment_type, contract_document, region (the pipeline requires them)"
        in text
    )


def test_a_bad_contract_date_is_named(cfg: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(
        cfg, "deals", "add", "--name", "X", "--pipeline", PIPELINE, "--csm", CSM[1],
        "--contract-end", "end of next year", capsys=capsys,
    )  # fmt: skip
    assert code == 2 and "--contract-end 'end of next year': expected a date like 2026-12-01" in err


def test_deals_import_reports_what_each_deal_lacks_and_reads_entities(
    cfg: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    csv_file = tmp_path / "handover.csv"
    csv_file.write_text(
        HEADER + "\n"
        f"Bravo Radio,{PIPELINE},Bo Bravo,bo@bravo.example,client_admin,{CSM[1]},"
        "2026-12-01,2027-11-30,annual,Scheduling;Analytics,Bravo North; Bravo South,EMEA\n"
        f"Bravo Radio,{PIPELINE},Bea Bravo,bea@bravo.example,contact,{CSM[1]},,,,,Bravo East;Bravo North,\n"
        f"Charlie TV,{PIPELINE},Cy Charlie,cy@charlie.example,contact,{CSM[1]},2026-12-01,2027-11-30,,Scheduling,,\n",
        encoding="utf-8",
    )
    code, out, err = run(cfg, "deals", "import", str(csv_file), capsys=capsys)
    assert code == 0 and "imported 2 deals; 0 problems" in out  # missing attributes warn, they do not refuse
    assert warnings(err) == [
        f"{csv_file}:2: warning: deal 1 Bravo Radio: missing contract_document (required by {PIPELINE}; "
        f"see `deals attributes --pipeline {PIPELINE}`)",
        f"{csv_file}:4: warning: deal 2 Charlie TV: missing payment_type, entities, contract_document, "
        f"client_admin, region (required by {PIPELINE}; see `deals attributes --pipeline {PIPELINE}`)",
    ]
    bravo = as_json(cfg, capsys, "deals", "show", "1")
    assert bravo["entities"] == ["Bravo North", "Bravo South", "Bravo East"]  # both rows, once each
    assert bravo["products"] == ["Scheduling", "Analytics"] and bravo["attributes"] == {"region": "EMEA"}
    assert bravo["missing_attributes"] == ["contract_document"]
    charlie = as_json(cfg, capsys, "deals", "show", "2")
    assert [e["kind"] for e in charlie["events"]].count("attributes_missing") == 1


def test_a_template_is_given_the_deals_entities(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates" / "emails", templates)
    (templates / "sites").mkdir()
    (templates / "sites" / "subject.txt").write_text("Your sites")
    (templates / "sites" / "body.txt").write_text("Sites: {{ deal.entities | join(', ') }}.")
    (templates / "sites" / "body.html").write_text("<p>Sites: {{ deal.entities | join(', ') }}.</p>")
    cfg = station_config(tmp_path, templates)
    code, _, err = run(
        cfg, "deals", "add", "--name", "Alpha FM", "--pipeline", PIPELINE, "--csm", CSM[1],
        "--entity", "Radio Nord, Hamburg", "--entity", "Radio Süd", capsys=capsys,
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run(cfg, "render", "sites", "--deal", "1", capsys=capsys)
    assert code == 0, err
    assert "Sites: Radio Nord, Hamburg, Radio Süd." in out
    assert run(cfg, "check", capsys=capsys)[0] == 0  # the sample deal `check` renders has entities too


# --- the signed contract, by email -----------------------------------------------------------
@pytest.fixture
def world(tmp_path: Path) -> Iterator[Harness]:
    sim = station_world(tmp_path, ManualClock(MONDAY))
    yield sim
    sim.agent.close()


def alpha(sim: Harness) -> int:
    deal = sim.add_deal("Alpha FM", pipeline=PIPELINE, contacts=[ContactSpec(*PAT, "client_admin")])
    sim.run()
    return deal


def send(
    sim: Harness,
    sender: tuple[str, str],
    to: str,
    subject: str,
    body: str,
    attachments: list[tuple[str, str, int]],
) -> str:
    """A message with files attached: (name, MIME type, size in bytes)."""
    msg = EmailMessage()
    msg["From"] = f"{sender[0]} <{sender[1]}>"
    msg["To"] = f"Onboarding <{to}>"
    msg["Subject"] = subject
    msg["Date"] = format_datetime(sim.clock.now())
    msg["Message-ID"] = f"<contract-{next(SENT)}@{sender[1].split('@')[1]}>"
    msg.set_content(body)
    for name, ctype, size in attachments:
        maintype, subtype = ctype.split("/")
        msg.add_attachment(
            b"%PDF-1.7 " + b"x" * (size - 9), maintype=maintype, subtype=subtype, filename=name
        )
    sim.deliver(msg.as_bytes())
    sim.run()
    return str(msg["Message-ID"])


def task(show: dict[str, object], key: str) -> dict[str, object]:
    tasks = show["tasks"]
    assert isinstance(tasks, list)
    return next(t for t in tasks if t["id"] == key)


def test_a_contract_emailed_to_the_deals_address_is_filed_and_ticks_its_task(world: Harness) -> None:
    deal = alpha(world)
    assert "contract_document" in world.show(deal)["missing_attributes"]
    message_id = send(
        world, PAT, world.reply_address(deal), "Signed!", "Here it is, signed.",
        [("Signed contract - Alpha FM.pdf", "application/pdf", 48_000), ("logo.png", "image/png", 3_000)],
    )  # fmt: skip
    show = world.show(deal)
    doc = show["contract_document"]
    assert doc is not None
    assert (doc["filename"], doc["content_type"], doc["size"]) == (
        "Signed contract - Alpha FM.pdf",
        "application/pdf",
        48_000,
    )
    assert doc["message_id"] == message_id and doc["from"] == PAT[1] and doc["source"]
    assert "contract_document" not in show["missing_attributes"]
    upload = task(show, "upload-contract")
    assert upload["status"] == "done" and upload["done_by"] == f"{PAT[1]}, emailing the signed contract"
    [filed] = [e for e in show["events"] if e["kind"] == "contract_received"]
    assert filed["reason"] == (
        f"signed contract Signed contract - Alpha FM.pdf (application/pdf, 48000 bytes) from {PAT[1]}"
    )
    assert [msg["subject"] for msg in show["messages"]] == ["Signed!"]  # logged as any message is
    with world.agent.sessions.begin() as s:  # the bytes stay in the mailbox, not in the store
        assert s.query(m.Message).filter_by(message_id=message_id).one().raw is None


def test_the_subject_tag_and_the_word_contract_say_which_attachment_is_the_contract(world: Harness) -> None:
    deal = alpha(world)
    token = world.show(deal)["token"]
    send(
        world, CSM, "onboarding@example.com", f"Fwd: countersigned [ref:{token}]", "contract\nFrom the client.",
        [("logo.png", "image/png", 2_000), ("scan-0042.pdf", "application/pdf", 120_000)],
    )  # fmt: skip
    doc = world.show(deal)["contract_document"]
    assert doc is not None and doc["filename"] == "scan-0042.pdf" and doc["from"] == CSM[1]
    send(  # a corrected copy later replaces it
        world, PAT, world.reply_address(deal), "Our contract, corrected", "Page 3 fixed.",
        [("alpha.pdf", "application/pdf", 50_000)],
    )  # fmt: skip
    show = world.show(deal)
    assert show["contract_document"]["filename"] == "alpha.pdf"
    assert any(
        e["kind"] == "contract_received" and e["reason"].endswith("replacing scan-0042.pdf")
        for e in show["events"]
    )


def test_without_the_deals_token_or_a_contract_nothing_is_filed(world: Harness) -> None:
    deal = alpha(world)
    # to the agent's own address, matched by the sender alone: which deal is a guess, so no contract
    send(
        world,
        PAT,
        "onboarding@example.com",
        "Signed contract",
        "Attached.",
        [("contract.pdf", "application/pdf", 9_000)],
    )
    # to the deal's address, but nothing says contract
    send(
        world,
        PAT,
        world.reply_address(deal),
        "Photos",
        "From the launch.",
        [("team.jpg", "image/jpeg", 400_000)],
    )
    show = world.show(deal)
    assert show["contract_document"] is None and task(show, "upload-contract")["status"] == "open"
    assert [msg["subject"] for msg in show["messages"]] == ["Signed contract", "Photos"]


def test_the_deal_page_shows_the_contract_entities_and_what_is_missing(world: Harness) -> None:
    import urllib.request

    from tests.integration.browser import in_process

    deal = world.add_deal(
        "Alpha FM", pipeline=PIPELINE, contacts=[ContactSpec(*PAT, "client_admin")], entities=["Alpha North"]
    )
    world.run()
    send(world, PAT, world.reply_address(deal), "Signed", "", [("Contract.pdf", "application/pdf", 30_000)])
    server = in_process(world)
    try:
        url = f"{server.url.rstrip('/')}/deals/{deal}"
        page = urllib.request.urlopen(url, timeout=10).read().decode()
    finally:
        server.shutdown()
    assert '<dd class="entities">Alpha North</dd>' in page
    assert '<dd class="document">Contract.pdf <span class="muted">application/pdf, 30 KB; from ' in page
    assert "Missing: contract start, contract end, payment type, products, region" in page
    assert "contract received" in page  # on the timeline, with its reason


def test_a_requires_entry_that_cannot_be_read_is_named_and_left_out(tmp_path: Path) -> None:
    from agent.pipeline.loader import load_pipelines
    from tests.integration.station import RULES

    source = (RULES / "station-onboarding.yaml").read_text()
    broken = source.replace(
        "  - client_admin\n",
        "  - client_admin\n  - products\n  - {attribute: timezone}\n  - {attribute: Region Name}\n  - 42\n",
    )
    (tmp_path / "station.yaml").write_text(broken)
    loaded = load_pipelines(tmp_path, None)
    messages = [i.message for i in loaded.issues]
    assert messages == [
        "requires: 'products' is listed twice",
        "requires: 'timezone' is a column of every hand-over (given or defaulted), not an attribute to require",
        "requires: attribute = 'Region Name': String should match pattern '^[a-z][a-z0-9_]*$'",
        "requires: 42: expected a name or {attribute: NAME, description: ...}",
    ]
    lines = broken.splitlines()
    assert [lines[i.line - 1].strip() for i in loaded.issues if i.line] == [
        "- products", "- {attribute: timezone}", "- {attribute: Region Name}", "- 42",
    ]  # fmt: skip
    required = [r.name for r in loaded.pipelines[PIPELINE].required]
    assert required == [
        "contract_start", "contract_end", "payment_type", "products", "entities", "contract_document",
        "client_admin", "region",
    ]  # fmt: skip
