"""The errors Parley expects, each carrying the remedy a user needs.

Anything raised as a ``ParleyError`` is shown to the user as one message without a traceback;
anything else is a bug and keeps its traceback.
"""

from __future__ import annotations


class ParleyError(Exception):
    """An expected failure with a message that says what to do."""

    exit_code: int = 1


class ConfigError(ParleyError):
    """The configuration is invalid: a bad key, a wrong type, an unreadable file."""

    exit_code = 2


class ModelLoadError(ParleyError):
    """A model is missing, corrupt, or its runtime is not installed."""

    exit_code = 3


class AudioDecodeError(ParleyError):
    """Input audio cannot be read or holds nothing usable."""

    exit_code = 4


class NoSpeechError(ParleyError):
    """The input audio was readable but held no speech."""

    exit_code = 5


class BackendError(ParleyError):
    """A backend failed while serving a turn (a remote LLM server is down, a tool failed)."""

    exit_code = 6


class StorageError(ParleyError):
    """The conversation database cannot be opened or written."""

    exit_code = 7


class ContextTooLongError(ParleyError):
    """A prompt that cannot fit the model's context window, even without its history."""


class DeviceError(ParleyError):
    """A sound device is missing, busy, or cannot play or record what Parley needs."""

    exit_code = 8


class ServiceError(ParleyError):
    """systemd could not install, start or stop Parley's service."""

    exit_code = 9
