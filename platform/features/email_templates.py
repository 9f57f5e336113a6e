"""Email templates: Jinja2, each message a subject, a plain-text and an HTML template.

A message NAME is three files, ``NAME.subject.txt``, ``NAME.txt`` and ``NAME.html``, found
first in the deployment's ``SPECIALISTLY_EMAIL_TEMPLATES_DIR`` (when set) and then among the
platform's own in ``features/templates/email/``: a deployment overrides any file by putting
one of the same name in its directory. HTML is autoescaped; subject and text are not (they
are not HTML). Every template sees ``brand`` (name, logo, colour, sender, support contact,
frontend URL) besides its own values.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jinja2

from specialistly.settings import Settings

BUILTIN = Path(__file__).resolve().parent / "templates" / "email"


@dataclass(frozen=True, slots=True)
class Rendered:
    subject: str
    text: str
    html: str


def brand(settings: Settings) -> dict[str, Any]:
    return {
        "name": settings.brand_name,
        "logo_url": settings.brand_logo_url,
        "color": settings.brand_color,
        "sender": settings.email_sender,
        "support_email": settings.support_email,
        "frontend_url": settings.frontend_url.rstrip("/"),
    }


class EmailTemplates:
    def __init__(self, settings: Settings) -> None:
        folders = [BUILTIN]
        if settings.email_templates_dir is not None:
            folders.insert(0, settings.email_templates_dir)
        loader = jinja2.FileSystemLoader([str(folder) for folder in folders])
        common: dict[str, Any] = {
            "loader": loader,
            "undefined": jinja2.StrictUndefined,
            "keep_trailing_newline": True,
        }
        self._html = jinja2.Environment(autoescape=True, **common)
        self._plain = jinja2.Environment(autoescape=False, **common)  # noqa: S701 (not HTML)
        for environment in (self._html, self._plain):
            environment.globals["brand"] = brand(settings)

    def render(self, name: str, values: dict[str, Any]) -> Rendered:
        subject = self._plain.get_template(f"{name}.subject.txt").render(values)
        return Rendered(
            subject=" ".join(subject.split()),  # one line, whatever the template's layout
            text=self._plain.get_template(f"{name}.txt").render(values),
            html=self._html.get_template(f"{name}.html").render(values),
        )

    def names(self) -> list[str]:
        """Every message that has a subject template, built-in or the deployment's."""
        found = self._plain.list_templates(filter_func=lambda n: n.endswith(".subject.txt"))
        return sorted({n.removesuffix(".subject.txt") for n in found})
