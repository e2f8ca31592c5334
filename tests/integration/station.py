"""The world of tests/data/pipelines/station-onboarding.yaml: an agent whose only pipeline has KPI cards
and required attributes (test_kpis.py, test_deal_data.py)."""

from __future__ import annotations

from pathlib import Path

from agent.clock import ManualClock
from agent.config import load_config
from tests.conftest import DATA, ROOT, Harness, write_config

PIPELINE = "station-onboarding"
RULES = DATA / "pipelines"


def station_config(folder: Path, templates: Path | None = None) -> Path:
    """The test config, its rules the fixture pipeline's folder (and its templates `templates`, if given)."""
    cfg = write_config(folder)
    text = cfg.read_text().replace(f'rules = "{ROOT / "rules"}"', f'rules = "{RULES}"')
    if templates is not None:
        text = text.replace(f'templates = "{ROOT / "templates" / "emails"}"', f'templates = "{templates}"')
    cfg.write_text(text)
    return cfg


def station_world(folder: Path, clock: ManualClock, templates: Path | None = None) -> Harness:
    return Harness(load_config(station_config(folder, templates)), clock)
