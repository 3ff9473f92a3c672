"""The user's image files on disk: finding them in folders, and naming them safely in text.

* :func:`walk_images` -- a folder's image files, recursively and sorted, plus one problem line
  for every folder or path that could not be searched (``chmod 000``, another user's folder):
  such a folder is reported, never silently skipped.
* :func:`path_problem` -- why a path cannot even be looked at (Python 3.11's
  ``Path.is_dir()`` raises PermissionError inside a folder the user cannot search).
* :func:`printable` -- a file name (or a message holding one) with newlines, terminal escape
  sequences and undecodable bytes escaped, so a hostile name cannot forge output lines or
  drive the terminal. JSON output needs no such care (json.dumps escapes).
"""

from __future__ import annotations

import os
from pathlib import Path


def printable(text: str) -> str:
    """``text`` with every non-printable character escaped as Python would (``\\n``, ``\\x1b``)."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape", "backslashreplace").decode("ascii")
                   for c in text)


def _reason(exc: OSError) -> str:
    return exc.strerror or type(exc).__name__


def path_problem(path: Path) -> str | None:
    """None if ``path`` can be examined (it may still not exist), else a one-line reason."""
    try:
        path.stat()
    except FileNotFoundError:
        return None  # reported by whoever opens it, as "no such file"
    except OSError as exc:
        return f"{path}: cannot access ({_reason(exc)})"
    return None


def walk_images(directory: Path, is_image) -> tuple[list[Path], list[tuple[Path, str]]]:
    """``(image files under directory, sorted; [(folder, problem line)])``.

    ``is_image(path)`` decides by name (e.g. preprocess.is_image_file). Every folder that cannot
    be listed becomes a problem line naming it; the walk goes on with the others.
    """
    problems: list[tuple[Path, str]] = []

    def unreadable(exc: OSError) -> None:
        folder = Path(exc.filename or directory)
        problems.append((folder, f"{folder}: cannot open folder ({_reason(exc)}); its images are not included"))

    found = []
    for root, _dirs, files in os.walk(directory, onerror=unreadable):
        for name in files:
            path = Path(root) / name
            if is_image(path) and os.path.isfile(path):
                found.append(path)
    return sorted(found), sorted(problems)
