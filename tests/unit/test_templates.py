"""agent.outbox.render: every shipped template renders for every pipeline; broken ones are named.

StrictUndefined means a missing variable is an error, never a half-rendered
email; only the HTML body is autoescaped.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent.cli import main
from agent.config import CONFIG_ENV, PROJECT_ROOT, AgentSection
from agent.errors import TemplateError
from agent.outbox.context import sample_context
from agent.outbox.render import PARTS, TemplateSet
from agent.pipeline.definition import Pipeline
from agent.pipeline.loader import load_pipelines

TEMPLATES = PROJECT_ROOT / "templates" / "emails"
RULES = PROJECT_ROOT / "rules"
SHIPPED_TEMPLATES = TemplateSet(TEMPLATES)
PIPELINES = load_pipelines(RULES, SHIPPED_TEMPLATES.names()).pipelines
AGENT = AgentSection()
DEAL_NAME = "Acme Radio"  # the name of the deal in sample_context


def template_folders() -> list[str]:
    return sorted(p.name for p in TEMPLATES.iterdir() if p.is_dir())


def test_every_template_folder_is_a_complete_template() -> None:
    folders = template_folders()
    assert {"intro", "recap", "completion", "survey", "notice", "approval-request"} <= set(folders)
    # A folder that names() skips would never be rendered by `check`.
    assert SHIPPED_TEMPLATES.names() == folders
    for name in folders:
        for part in PARTS:
            assert (TEMPLATES / name / part).is_file(), f"{name}/{part}"


def test_shipped_pipelines_are_loaded() -> None:
    assert sorted(PIPELINES) == [
        "hybrid-onboarding",
        "learning-platform-onboarding",
        "project-onboarding",
        "standard-onboarding",
    ]


@pytest.mark.parametrize("pipeline_id", [*sorted(PIPELINES), None])
@pytest.mark.parametrize("name", template_folders())
def test_every_template_renders_for_every_pipeline(name: str, pipeline_id: str | None) -> None:
    pipeline: Pipeline | None = PIPELINES[pipeline_id] if pipeline_id else None
    ctx = sample_context(AGENT, pipeline)
    assert ctx["deal"]["name"] == DEAL_NAME

    out = SHIPPED_TEMPLATES.render(name, ctx)

    assert out.subject.strip() and out.text.strip() and out.html.strip()
    assert "\n" not in out.subject
    for part in (out.subject, out.text, out.html):
        assert "{{" not in part and "{%" not in part and "}}" not in part
        assert "Undefined" not in part and "None" not in part
    if name not in STANDALONE:
        assert DEAL_NAME in out.subject + out.text
        assert DEAL_NAME in out.html
    assert out.html.lstrip().lower().startswith("<!doctype html>")


# emails to our people about no single deal, and the context key each reads
STANDALONE = {
    "question": "question",
    "unmatched-digest": "digest",
    "csm-digest": "digest",
    "weekly-scorecard": "scorecard",
}


@pytest.mark.parametrize("name", sorted(STANDALONE))
def test_standalone_templates_need_no_deal(name: str) -> None:
    full = sample_context(AGENT, None)
    key = STANDALONE[name]
    ctx = {"agent": full["agent"], "recipients": full["recipients"], key: full[key]}  # no deal at all
    out = SHIPPED_TEMPLATES.render(name, ctx)
    assert "Acme Radio · ref" not in out.html  # the layout's deal footer is left out
    if name == "question":
        assert "1. Acme Radio (ref SAMPLE01" in out.text and "2. Acme TV" in out.text
    elif name == "unmatched-digest":
        assert "1 message matched no deal" in out.subject and "someone@unknown.example" in out.text
    elif name == "csm-digest":
        assert "Acme Radio: Import the client's data (due 2026-02-27)" in out.text
        assert "<b>Acme TV</b>: set-up for 20 days (target 14)" in out.html
    else:
        assert "In onboarding:        12" in out.text and "Acme TV</b>: set-up for 20.0 days" in out.html


def test_intro_uses_the_deal_and_the_stage(tmp_path: Path) -> None:
    ctx = sample_context(AGENT, PIPELINES["standard-onboarding"])
    out = SHIPPED_TEMPLATES.render("intro", ctx)
    assert out.subject == (
        "Welcome to standard onboarding, Acme Radio Ltd: let's schedule your introduction call"
    )
    assert out.text.startswith("Hello Jane,")
    assert "Scheduling, Analytics" in out.text
    step = "We set up your stations and agree the dates of your training sessions."  # its next_steps
    assert f"- {step}" in out.text
    assert f"<li>{step}</li>" in out.html
    assert "Sam CSM" in out.text


# --- broken templates -------------------------------------------------------------------------
def make_template(folder: Path, name: str, subject: str, text: str, html: str | None) -> Path:
    path = folder / name
    path.mkdir(parents=True)
    (path / "subject.txt").write_text(subject, encoding="utf-8")
    (path / "body.txt").write_text(text, encoding="utf-8")
    if html is not None:
        (path / "body.html").write_text(html, encoding="utf-8")
    return path


CTX: dict[str, Any] = {"deal": {"name": "Acme Radio"}, "agent": {"name": "Onboarding Team"}}


@pytest.mark.parametrize(
    ("subject", "text", "html", "bad_part", "variable"),
    [
        (
            "Hi {{ deal.name }}\n",
            "Dear {{ contact.name }},\n",
            "<p>{{ deal.name }}</p>\n",
            "body.txt",
            "contact",
        ),
        ("Hi {{ deal.nickname }}\n", "ok\n", "<p>ok</p>\n", "subject.txt", "nickname"),
        # The subject and text parts are fine: the whole email must still be refused.
        (
            "Hi {{ deal.name }}\n",
            "ok {{ deal.name }}\n",
            "<p>{{ deal.owner.name }}</p>\n",
            "body.html",
            "owner",
        ),
    ],
    ids=["text", "subject", "html-only"],
)
def test_undefined_variable_is_an_error_naming_the_file_and_line(
    tmp_path: Path, subject: str, text: str, html: str, bad_part: str, variable: str
) -> None:
    folder = make_template(tmp_path, "broken", subject, text, html)
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("broken", CTX)
    msg = str(info.value)
    assert re.match(rf"{re.escape(str(folder / bad_part))}:\d+: cannot render", msg), msg
    assert variable in msg


def test_a_template_edited_on_disk_takes_effect_on_reload_not_at_the_next_email(tmp_path: Path) -> None:
    """A half-saved edit must not go out: the running set keeps what it read; a reload (a new set,
    after `check`) reads the edit."""
    folder = make_template(tmp_path, "note", "Note\n", "First version\n", "<p>First version</p>\n")
    running = TemplateSet(tmp_path)
    assert running.render("note", CTX).text == "First version\n"
    (folder / "body.txt").write_text("Second {{ deal.nickname\n")  # saved half-way
    assert running.render("note", CTX).text == "First version\n"
    with pytest.raises(TemplateError, match="syntax error"):
        TemplateSet(tmp_path).render("note", CTX)


def test_undefined_variable_in_a_condition_or_loop_is_an_error(tmp_path: Path) -> None:
    make_template(tmp_path, "loop", "S\n", "{% for c in contacts %}{{ c }}{% endfor %}\n", "<p>x</p>\n")
    with pytest.raises(TemplateError, match="contacts"):
        TemplateSet(tmp_path).render("loop", CTX)


def test_syntax_error_names_file_and_line(tmp_path: Path) -> None:
    text = "Hello,\n\nWelcome {{ deal.name }}.\n{% if deal.name %}\nunclosed {{ deal.name \n"
    folder = make_template(tmp_path, "syntax", "S\n", text, "<p>x</p>\n")
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("syntax", CTX)
    assert str(info.value).startswith(f"{folder / 'body.txt'}:5: template syntax error:"), str(info.value)


def test_syntax_error_in_html_names_its_line(tmp_path: Path) -> None:
    html = "<p>one</p>\n<p>two</p>\n{% endfor %}\n"
    folder = make_template(tmp_path, "syntax", "S\n", "ok\n", html)
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("syntax", CTX)
    msg = str(info.value)
    assert msg.startswith(f"{folder / 'body.html'}:3: template syntax error:"), msg
    assert "endfor" in msg


def test_syntax_error_in_the_layout_names_the_layout(tmp_path: Path) -> None:
    (tmp_path / "_layout.html").write_text(
        "<html>\n{% block body %}{% endblock %}\n<p>{{ deal.name | }}</p>\n</html>\n", encoding="utf-8"
    )
    html = '{% extends "_layout.html" %}\n{% block body %}<p>hi</p>{% endblock %}\n'
    make_template(tmp_path, "uses-layout", "S\n", "ok\n", html)
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("uses-layout", CTX)
    msg = str(info.value)
    assert msg.startswith(f"{tmp_path / '_layout.html'}:3: template syntax error:"), msg


def test_html_is_autoescaped_text_and_subject_are_not() -> None:
    ctx = sample_context(AGENT, PIPELINES["standard-onboarding"])
    evil = "Acme <script>alert(1)</script> & Sons"
    ctx["deal"]["name"] = evil

    out = SHIPPED_TEMPLATES.render("approval-request", ctx)

    assert evil in out.subject
    assert evil in out.text
    assert "<script>" not in out.html
    assert "Acme &lt;script&gt;alert(1)&lt;/script&gt; &amp; Sons" in out.html
    # The template's own markup is not escaped.
    assert "<strong>Acme &lt;script&gt;" in out.html


def test_missing_part_is_an_error_naming_the_file(tmp_path: Path) -> None:
    folder = make_template(tmp_path, "no-html", "Hi {{ deal.name }}\n", "Text\n", None)
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("no-html", CTX)
    msg = str(info.value)
    assert msg.startswith(f"{folder / 'body.html'}: missing"), msg
    assert "subject.txt, body.txt, body.html" in msg


def test_empty_subject_is_an_error(tmp_path: Path) -> None:
    folder = make_template(tmp_path, "blank", "{% if false %}x{% endif %}  \n", "Text\n", "<p>x</p>\n")
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("blank", CTX)
    assert str(info.value) == f"{folder / 'subject.txt'}: renders to an empty subject"


def test_unknown_template_lists_the_known_ones(tmp_path: Path) -> None:
    make_template(tmp_path, "hello", "Hi\n", "Text\n", "<p>x</p>\n")
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("goodbye", CTX)
    assert str(info.value) == f"{tmp_path / 'goodbye'}: no such email template; expected one of ['hello']"


def test_subject_is_one_line(tmp_path: Path) -> None:
    make_template(tmp_path, "multi", "Hello\n  {{ deal.name }}\n\n", "Text\n", "<p>x</p>\n")
    assert TemplateSet(tmp_path).render("multi", CTX).subject == "Hello Acme Radio"


# --- python -m agent check --------------------------------------------------------------------
def run_check(tmp_path: Path, templates: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    cfg = tmp_path / "agent.toml"
    cfg.write_text(
        f"[paths]\nstate = '{tmp_path / 'state'}'\nrules = '{RULES}'\ntemplates = '{templates}'\n",
        encoding="utf-8",
    )
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    return main(["--config", str(cfg), "check"])


def test_check_fails_on_a_template_with_an_undefined_variable(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "emails"
    shutil.copytree(TEMPLATES, templates)
    recap = templates / "recap" / "body.txt"
    lines = recap.read_text(encoding="utf-8").splitlines()
    recap.write_text("\n".join(lines) + "\n{{ meeting.minutes_url }}\n", encoding="utf-8")

    code = run_check(tmp_path, templates, monkeypatch)

    err = capsys.readouterr().err
    assert code == 2
    assert f"{recap}:{len(lines) + 1}: cannot render" in err, err  # the file and the line
    assert "minutes_url" in err
    assert "intro" not in err  # only the broken template is blamed


def test_check_fails_on_a_template_syntax_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "emails"
    shutil.copytree(TEMPLATES, templates)
    subject = templates / "survey" / "subject.txt"
    subject.write_text("One question {{ deal.account \n", encoding="utf-8")

    code = run_check(tmp_path, templates, monkeypatch)

    err = capsys.readouterr().err
    assert code == 2
    assert f"{subject}:1: template syntax error" in err, err


def test_check_fails_when_a_required_template_is_missing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "emails"
    shutil.copytree(TEMPLATES, templates)
    shutil.rmtree(templates / "notice")

    code = run_check(tmp_path, templates, monkeypatch)

    err = capsys.readouterr().err
    assert code == 2
    assert f"{templates}: missing template 'notice'" in err, err


def test_check_passes_on_an_intact_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = tmp_path / "emails"
    shutil.copytree(TEMPLATES, templates)

    code = run_check(tmp_path, templates, monkeypatch)

    captured = capsys.readouterr()
    assert code == 0, captured.err
    assert f"{len(template_folders())} templates" in captured.out


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__[1].__subclasses__()",  # the classic escape to arbitrary classes
        "deal.__class__.__init__.__globals__",
        "cycler.__init__.__globals__.os.system('true')",
    ],
)
def test_the_sandbox_keeps_templates_away_from_python_internals(tmp_path: Path, expression: str) -> None:
    folder = make_template(tmp_path, "evil", "S\n", f"{{{{ {expression} }}}}\n", "<p>x</p>\n")
    with pytest.raises(TemplateError) as info:
        TemplateSet(tmp_path).render("evil", CTX)
    assert str(info.value).startswith(f"{folder / 'body.txt'}:1: cannot render"), info.value


def test_data_that_looks_like_a_template_is_never_evaluated(tmp_path: Path) -> None:
    make_template(
        tmp_path, "hello", "Hello {{ deal.name }}\n", "Dear {{ deal.name }}\n", "<p>{{ deal.name }}</p>\n"
    )
    rendered = TemplateSet(tmp_path).render("hello", {"deal": {"name": "{{ 7*7 }} {% raw %}"}})
    assert rendered.subject == "Hello {{ 7*7 }} {% raw %}" and "49" not in rendered.text
