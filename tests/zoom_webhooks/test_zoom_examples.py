"""The plugin reads Zoom's published examples, and any body Zoom's schemas allow."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import jsonschema
import pytest
from pydantic import BaseModel, ValidationError

from specialistly_zoom.attendance import MeetingEvent, ParticipantEvent
from specialistly_zoom.recordings import RecordingCompleted
from specialistly_zoom.webhooks import HANDLERS, Deauthorization, Envelope, UrlValidation
from tests.zoom_webhooks.deliveries import example
from tests.zoom_webhooks.schema_bodies import body_of, event_schema

EVENTS = sorted(HANDLERS)


def at(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)


@pytest.mark.parametrize("event", EVENTS)
def test_every_handled_event_has_an_example_it_reads(event: str) -> None:
    body = example(event)
    assert Envelope.model_validate(body).event == event
    HANDLERS[event].model.model_validate(body)


@pytest.mark.parametrize("event", EVENTS)
@pytest.mark.parametrize("everything", [False, True], ids=["required", "all"])
def test_bodies_the_schema_allows_are_read(event: str, everything: bool) -> None:
    schema = event_schema(event)
    body = body_of(schema, everything=everything)
    jsonschema.Draft202012Validator(schema).validate(body)  # the body is one Zoom may send
    if event == "app_deauthorized" and not everything:
        # The Marketplace schema requires nothing, but a deauthorization naming no user
        # cannot be acted on: it is refused (and Zoom tries again).
        with pytest.raises(ValidationError):
            HANDLERS[event].model.model_validate(body)
        return
    HANDLERS[event].model.model_validate(body)


def test_meeting_examples_give_the_meeting_its_host_and_times() -> None:
    started = MeetingEvent.model_validate(example("meeting.started")).payload.object
    assert (started.id, started.host_id) == ("1234567890", "x1yCzABCDEfg23HiJKl4mN")
    assert started.start_time == at("2021-07-13T21:44:51Z")
    ended = MeetingEvent.model_validate(example("meeting.ended")).payload.object
    assert ended.end_time == at("2021-07-13T23:00:51Z")
    sample = MeetingEvent.model_validate(example("webhook-sample.meeting.started"))
    assert sample.payload.object.id == "{MEETING_ID}"


def test_a_blank_instant_is_an_unknown_one() -> None:
    body = example("meeting.ended")
    body["payload"]["object"]["start_time"] = ""
    body["payload"]["object"]["end_time"] = " "
    meeting = MeetingEvent.model_validate(body).payload.object
    assert (meeting.start_time, meeting.end_time) == (None, None)


def test_participant_examples_give_who_and_when() -> None:
    joined = ParticipantEvent.model_validate(example("meeting.participant_joined"))
    who = joined.payload.object.participant
    assert (who.user_name, who.email) == ("Jill Chill", "jchill@example.com")
    assert who.key() == "rstuvwxyza789-cde"
    assert (who.join_time or who.date_time) == at("2021-07-13T21:44:51Z")
    left = ParticipantEvent.model_validate(example("meeting.participant_left"))
    assert left.payload.object.participant.leave_time == at("2021-07-13T22:50:51Z")
    assert left.payload.object.participant.key() == who.key()


def test_the_schema_names_the_join_time_the_example_calls_date_time() -> None:
    schema = event_schema("meeting.participant_joined")
    body = body_of(schema, everything=True)
    body["payload"]["object"]["participant"]["join_time"] = "2026-03-02T10:05:00Z"
    who = ParticipantEvent.model_validate(body).payload.object.participant
    assert who.join_time == at("2026-03-02T10:05:00Z")


def test_recording_example_gives_each_file_and_the_download_token() -> None:
    body = example("recording.completed")
    completed = RecordingCompleted.model_validate(body)
    meeting = completed.payload.object
    assert meeting.id == "1234567890"  # a number here, a string in the meeting events
    assert completed.download_token == body["download_token"]
    files = {f.id: f for f in meeting.recording_files}
    assert set(files) == {
        "ed6c2f27-2ae7-42f4-b3d0-835b493e4fa8",
        "388ffb46-1541-460d-8447-4624451a1db7",
    }
    video = files["388ffb46-1541-460d-8447-4624451a1db7"]
    assert (video.recording_type, video.file_type, video.file_size) == (
        "shared_screen_with_speaker_view",
        "MP4",
        282825,
    )
    assert video.play_url.endswith("/play/Qg75t7xZBtEbAkjdlgbfdngCCCC")


def test_deauthorization_and_challenge_examples() -> None:
    gone = Deauthorization.model_validate(example("app_deauthorized")).payload
    assert (gone.user_id, gone.account_id) == ("abcD3ojfdbjfg", "AAAAAABBBB")
    challenge = Envelope.model_validate(example("endpoint.url_validation.request"))
    assert UrlValidation.model_validate(challenge.payload).plainToken == "qgg8vlvZRS6UYooatFL8Aw"


# In Zoom's participant examples, not in the schemas (which say join_time / leave_time).
EXAMPLE_ONLY = {"date_time"}


def test_models_read_only_what_zoom_sends() -> None:
    """Every field a model reads is a property of Zoom's schema for an event it reads."""
    uses: list[tuple[type[BaseModel], list[str]]] = [
        (MeetingEvent, ["meeting.started", "meeting.ended"]),
        (ParticipantEvent, ["meeting.participant_joined", "meeting.participant_left"]),
        (RecordingCompleted, ["recording.completed"]),
        (Deauthorization, ["app_deauthorized"]),
    ]
    for model, events in uses:
        _assert_within(model, [event_schema(e) for e in events], model.__name__)


def _assert_within(model: type[BaseModel], schemas: list[dict[str, Any]], path: str) -> None:
    properties: dict[str, list[dict[str, Any]]] = {}
    for schema in schemas:
        for name, inner in schema.get("properties", {}).items():
            properties.setdefault(name, []).append(inner.get("items", inner))
    for name, field in model.model_fields.items():
        if name in EXAMPLE_ONLY:
            continue
        assert name in properties, f"{path}.{name} is not in Zoom's schema"
        for candidate in getattr(field.annotation, "__args__", (field.annotation,)):
            if isinstance(candidate, type) and issubclass(candidate, BaseModel):
                _assert_within(candidate, properties[name], f"{path}.{name}")
