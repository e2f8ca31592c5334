"""A pipeline of the tests' own whose stage needs the Accountable person's approval to be left.

The shipped pipelines follow their documents, and none of them asks for that approval (seeds/001's
Post Training - Sales, the stage that did, has no content in the document): the tests of stage
approval run on this one.
"""

from __future__ import annotations

import shutil
from datetime import UTC, datetime
from pathlib import Path

from agent.clock import ManualClock
from agent.config import load_config
from tests.conftest import ROOT, Harness, write_config

SIGN_OFF = """\
pipeline: sign-off
name: Sign-off
roles:
  csm: {side: ours, title: Customer Success Manager}
  onboarding_manager: {side: ours, title: Onboarding Manager}
  account_manager: {side: ours, title: Account Manager}
  client_admin: {side: client, title: Client administrator}
stages:
  - id: post-training-sales
    name: Post Training - Sales
    requires_approval: true
    meetings:
      training-session: {title: ['training']}
    tasks:
      - {id: sales-handover, title: Hand the account over to Sales, R: account_manager, A: onboarding_manager}
  - {id: won, name: Won, end: true}
rules:
  - id: recap-after-training
    when: {meeting_completed: training-session}
    then: [{send: recap, to: [client_contacts], cc: [csm]}]
  - id: sales-done
    when: {stage_tasks_done: post-training-sales}
    then: [{advance: won}]
"""


def with_sign_off(tmp_path: Path, review: str = "") -> Harness:
    """The shipped pipelines and SIGN_OFF, whose only stage needs the Accountable person's approval."""
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    (rules / "sign-off.yaml").write_text(SIGN_OFF, encoding="utf-8")
    cfg = write_config(tmp_path / "agent")
    text = cfg.read_text().replace(f'rules = "{ROOT / "rules"}"', f'rules = "{rules}"')
    cfg.write_text(text.replace("[review]\ntemplates = []", f"[review]\ntemplates = [{review}]"))
    return Harness(load_config(cfg), ManualClock(datetime(2026, 11, 30, 9, 0, tzinfo=UTC)))
