"""A plugin offering a video provider under a name Jitsi uses already."""

from collections.abc import Sequence

from specialistly.hookspecs import hookimpl
from specialistly_jitsi.plugin import JitsiProvider, JitsiSettings


@hookimpl
def video_providers() -> Sequence[JitsiProvider]:
    return [JitsiProvider(JitsiSettings())]
