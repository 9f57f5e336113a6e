"""Email templates: every one renders, HTML is escaped and text is not, the brand comes from
the settings, a deployment's folder overrides single files; and `preview-email`."""

from __future__ import annotations

from pathlib import Path

import pytest

from specialistly.features.email_preview import sample_values
from specialistly.features.email_templates import BUILTIN, EmailTemplates
from specialistly.processes.cli import main
from specialistly.settings import Settings

NAMES = sorted(p.name.removesuffix(".subject.txt") for p in BUILTIN.glob("*.subject.txt"))


def test_the_messages_of_the_issue_all_have_templates() -> None:
    assert set(NAMES) >= {
        "booking_confirmed_customer",
        "booking_confirmed_specialist",
        "booking_rescheduled",
        "booking_cancelled",
        "payment_hold_expired",
        "meeting_pending",
        "meeting_failed",
        "recording_ready",
        "review_request",
        "zoom_reconnect",
        "welcome",
        "verify_email",
        "reset_password",
    }


@pytest.mark.parametrize("name", NAMES)
def test_every_template_renders_with_the_brand(name: str) -> None:
    settings = Settings(brand_name="Acme Advice", support_email="help@acme.example")
    rendered = EmailTemplates(settings).render(name, sample_values(name))
    assert rendered.subject and "\n" not in rendered.subject
    for body in (rendered.text, rendered.html):
        assert "help@acme.example" in body
    assert "Acme Advice" in rendered.html


def test_html_is_escaped_and_text_is_not() -> None:
    values = {**sample_values("booking_confirmed_specialist"), "customer_name": "<b>Eve</b> & co"}
    rendered = EmailTemplates(Settings()).render("booking_confirmed_specialist", values)
    assert "&lt;b&gt;Eve&lt;/b&gt; &amp; co" in rendered.html
    assert "<b>Eve</b>" not in rendered.html
    assert "<b>Eve</b> & co booked" in rendered.text
    assert "<b>Eve</b> & co" in rendered.subject


def test_logo_and_colour_come_from_the_settings() -> None:
    settings = Settings(brand_logo_url="https://cdn.acme.example/logo.png", brand_color="#123456")
    html = EmailTemplates(settings).render("review_request", sample_values("review_request")).html
    assert '<img src="https://cdn.acme.example/logo.png"' in html
    assert "#123456" in html


def test_a_deployment_overrides_single_files(tmp_path: Path) -> None:
    (tmp_path / "review_request.subject.txt").write_text("Rate {{ specialist_name }}!")
    (tmp_path / "_layout.txt").write_text("ACME\n{% block body %}{% endblock %}")
    templates = EmailTemplates(Settings(email_templates_dir=tmp_path))
    rendered = templates.render("review_request", sample_values("review_request"))
    assert rendered.subject == "Rate Ada Expert!"
    assert rendered.text.startswith("ACME\n")
    assert "Write a review" in rendered.html  # the built-in HTML still
    assert templates.names() == NAMES


def test_a_missing_value_is_an_error_not_a_blank() -> None:
    import jinja2

    with pytest.raises(jinja2.UndefinedError):
        EmailTemplates(Settings()).render("review_request", {"recipient_name": "Sam"})


def test_preview_email_prints_the_text_or_the_html(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["preview-email", "booking_confirmed_customer"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("Subject: Confirmed: Career chat with Ada Expert")
    assert "Join the meeting: https://meet.jit.si/" in out

    assert main(["preview-email", "booking_confirmed_customer", "--html"]) == 0
    assert "<!DOCTYPE html>" in capsys.readouterr().out

    assert main(["preview-email"]) == 0
    assert capsys.readouterr().out.split() == NAMES

    assert main(["preview-email", "no_such_email"]) == 1
    assert "no_such_email" in capsys.readouterr().err
