"""Render the email templates: templates/emails/<name>/{subject.txt, body.txt, body.html}.

Sandboxed Jinja2 with StrictUndefined: a missing variable is an error (caught
by `check`, which renders every template against a sample deal), never a
half-rendered email. Only the HTML body is autoescaped.
"""

from __future__ import annotations

import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jinja2 import FileSystemLoader, StrictUndefined, TemplateError, TemplateSyntaxError
from jinja2.sandbox import SandboxedEnvironment

from agent import errors

PARTS = ("subject.txt", "body.txt", "body.html")


@dataclass(frozen=True)
class Rendered:
    subject: str
    text: str
    html: str


class TemplateSet:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        loader = FileSystemLoader(str(folder))
        common: dict[str, Any] = {
            "undefined": StrictUndefined,
            "keep_trailing_newline": True,
            "loader": loader,
            # A template is read once: an edit takes effect on reload (SIGHUP), after `check` has
            # passed it, not half-written at the next email (and no file is looked at per email).
            "auto_reload": False,
        }
        self._text = SandboxedEnvironment(autoescape=False, **common)
        self._html = SandboxedEnvironment(autoescape=True, **common)
        self._whole: set[str] = set()  # the templates found with all their parts
        for env in (self._text, self._html):
            env.filters["first_name"] = _first_name

    def names(self) -> list[str]:
        if not self.folder.is_dir():
            return []
        return sorted(p.name for p in self.folder.iterdir() if p.is_dir() and (p / "subject.txt").is_file())

    def render(self, name: str, context: dict[str, Any]) -> Rendered:
        folder = self.folder / name
        if name not in self._whole:
            if not folder.is_dir():
                raise errors.TemplateError(
                    f"{folder}: no such email template; expected one of {self.names()}"
                )
            for part in PARTS:
                if not (folder / part).is_file():
                    raise errors.TemplateError(
                        f"{folder / part}: missing (each template needs {', '.join(PARTS)})"
                    )
            self._whole.add(name)
        out: dict[str, str] = {}
        for part in PARTS:
            env = self._html if part.endswith(".html") else self._text
            try:
                out[part] = env.get_template(f"{name}/{part}").render(context)
            except TemplateSyntaxError as exc:
                # The line may be in a template this one extends (_layout.html): name that file.
                where = exc.filename or folder / part
                raise errors.TemplateError(
                    f"{where}:{exc.lineno}: template syntax error: {exc.message}"
                ) from exc
            except TemplateError as exc:
                raise errors.TemplateError(f"{_line(exc, folder / part)}: cannot render: {exc}") from exc
            except Exception as exc:  # an operation that fails on this deal's data, e.g. 10 // 0
                raise errors.TemplateError(
                    f"{_line(exc, folder / part)}: cannot render: {type(exc).__name__}: {exc}"
                ) from exc
        subject = " ".join(out["subject.txt"].split())
        if not subject:
            raise errors.TemplateError(f"{folder / 'subject.txt'}: renders to an empty subject")
        return Rendered(subject, out["body.txt"], out["body.html"])


def _line(exc: BaseException, path: Path) -> str:
    """file:line of the template line that failed (Jinja puts template lines in the traceback)."""
    for frame in reversed(traceback.extract_tb(exc.__traceback__)):
        if frame.filename.startswith(str(path.parent.parent)) and frame.filename.endswith((".txt", ".html")):
            return f"{frame.filename}:{frame.lineno}"
    return str(path)


def _first_name(value: Any) -> str:
    text = str(value or "").strip()
    return text.split()[0] if text else ""
