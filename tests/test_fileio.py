"""mnist_app/fileio.py: atomic writes leave either the old file or the new one, never a partial one."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mnist_app.fileio import atomic_write


def test_atomic_write_replaces_the_file_with_normal_permissions(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.bin"
    with atomic_write(target) as handle:
        handle.write(b"hello")
    assert target.read_bytes() == b"hello"
    umask = os.umask(0)
    os.umask(umask)
    assert target.stat().st_mode & 0o777 == 0o666 & ~umask
    assert list(target.parent.iterdir()) == [target]


def test_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "out.txt"
    target.write_text("old")
    with pytest.raises(RuntimeError):
        with atomic_write(target, "w") as handle:
            handle.write("half of the new conte")
            raise RuntimeError("disk on fire")
    assert target.read_text() == "old"
    assert list(tmp_path.iterdir()) == [target]


def test_unwritable_targets_are_one_line_errors(tmp_path: Path) -> None:
    from mnist_app.errors import OutputError
    from mnist_app.fileio import ensure_directory

    (tmp_path / "a_dir").mkdir()
    with pytest.raises(OutputError, match="a_dir: is a directory"):
        with atomic_write(tmp_path / "a_dir") as handle:
            handle.write(b"x")
    (tmp_path / "a_file").write_text("x")
    with pytest.raises(OutputError, match="cannot write here"):
        with atomic_write(tmp_path / "a_file" / "out.png") as handle:
            handle.write(b"x")
    with pytest.raises(OutputError, match="a_file: is a file, not a directory"):
        ensure_directory(tmp_path / "a_file")
    assert ensure_directory(tmp_path / "new" / "deeper").is_dir()


def test_lock_directory_refuses_a_second_holder_and_frees_on_exit(tmp_path: Path) -> None:
    from mnist_app.errors import BusyError
    from mnist_app.fileio import lock_directory

    with lock_directory(tmp_path):
        with pytest.raises(BusyError, match=f"in use by another process \\(process {os.getpid()}\\)"):
            with lock_directory(tmp_path):
                pass
    with lock_directory(tmp_path):  # released
        pass


def test_stale_temporaries_of_named_files_only_are_removed(tmp_path: Path) -> None:
    from mnist_app.fileio import remove_stale_temporaries

    ours = [tmp_path / ".accuracy.png.abc.tmp", tmp_path / ".last.npz.x1.tmp"]
    theirs = [tmp_path / ".other.png.abc.tmp", tmp_path / "accuracy.png", tmp_path / ".accuracy.png"]
    for path in ours + theirs:
        path.write_bytes(b"")
    assert sorted(remove_stale_temporaries(tmp_path, ["accuracy.png", "last.npz"])) == sorted(ours)
    assert sorted(tmp_path.iterdir()) == sorted(theirs)
