"""Files Parley derives from a model once and keeps between starts: the Piper voice patched to
report its alignments, Whisper's encoding of a silent window's end, the vectors of the texts
tools are known by.

Deriving them takes seconds of CPU at every start (more than loading the models themselves on
a busy two-core machine), and their inputs change only when a model file does. Each file is
named by its source's size and modification time, so a replaced model is never paired with what
was derived from the old one, and keeping a new one removes those of the old. They live in the
user's cache directory (``$XDG_CACHE_HOME``, else ``~/.cache``): anything there may be deleted at
any time and is derived again.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
from pathlib import Path

log = logging.getLogger(__name__)


def derived_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "parley"


def derived_path(source: Path, kind: str, suffix: str) -> Path:
    """Where what is derived from ``source`` (as ``kind``) is kept, named by the source's size
    and modification time."""
    stat = source.stat()
    # "@" parts the source's name from its stamp and the kind, which may hold dashes and dots.
    name = f"{source.parent.name}-{source.stem}"
    return derived_dir() / f"{name}@{stat.st_size}-{stat.st_mtime_ns}.{kind}{suffix}"


def keep(path: Path, data: bytes) -> None:
    """Write ``data`` to ``path`` (a ``derived_path``) whole or not at all, and remove what was
    derived the same way from earlier versions of its source. Processes starting side by side
    may each derive the same file, and a reader must never see half of one. A file that cannot
    be written costs only the time to derive it again, so that is logged, not raised."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=path.parent, prefix=path.name, suffix=".part")
        temporary = Path(name)
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(data)
            temporary.replace(path)
        except BaseException:
            temporary.unlink(missing_ok=True)
            raise
    except OSError as error:
        log.info("Could not keep %s (%s): it is derived again at the next start", path, error)
        return
    _remove_earlier_versions(path)


def _remove_earlier_versions(path: Path) -> None:
    source, _, stamped = path.name.rpartition("@")
    _stamp, _, kind = stamped.partition(".")
    for other in path.parent.iterdir():
        other_source, _, other_stamped = other.name.rpartition("@")
        if other != path and other_source == source and other_stamped.partition(".")[2] == kind:
            with contextlib.suppress(OSError):
                other.unlink()
