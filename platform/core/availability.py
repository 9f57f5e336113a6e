"""A specialist's weekly hours and date overrides, in the specialist's time zone."""

from __future__ import annotations

from datetime import datetime

from beanie import Document, PydanticObjectId
from pydantic import BaseModel, Field
from pymongo import ASCENDING, IndexModel

from specialistly.core.clock import utcnow


class HoursRange(BaseModel):
    """Local wall-clock minutes since midnight; end 1440 means midnight at the day's end."""

    start: int
    end: int


class WeeklyHours(BaseModel):
    weekday: int  # 0 = Monday ... 6 = Sunday
    ranges: list[HoursRange]


class DateHours(BaseModel):
    """Hours on one date that replace the weekly hours; no ranges means a day off."""

    day: str  # ISO date, YYYY-MM-DD (BSON has no date type)
    ranges: list[HoursRange] = []


class Availability(Document):
    specialist_id: PydanticObjectId
    timezone: str
    weekly: list[WeeklyHours] = []
    overrides: list[DateHours] = []
    updated_at: datetime = Field(default_factory=utcnow)

    class Settings:
        name = "availability"
        indexes = [IndexModel([("specialist_id", ASCENDING)], unique=True)]
