"""``python scripts/download.py``: fetch and verify the four MNIST files.

Exit 0 when all four files are present with their pinned checksums, 1 when some file could not
be fetched (one line on stderr, naming every mirror tried for each file and why it failed) or the
data directory is unwritable, 2 on bad options.
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from mnist_app.cli.common import add_data_options, make_parser, run

DESCRIPTION = """\
Download the four MNIST files (training/test images and labels, gzip IDX) into a data
directory and verify each against pinned MD5 and SHA-256 checksums. Files already present
and correct are not downloaded again; an interrupted download resumes from its .part file.
A file with the wrong checksum is replaced only by a verified download and is kept as
NAME.bad-<sha8> (never deleted). Two processes may download into one folder at once.

Mirrors are tried in order: --mirror (repeatable), then $MNIST_MIRROR (comma-separated), then
the built-in public mirrors. A mirror is an http(s):// URL, a file:// URL or a local folder
holding the four .gz files. The data directory is --data-dir, else $MNIST_DATA_DIR, else
$XDG_CACHE_HOME/mnist_app (usually ~/.cache/mnist_app)."""

EXAMPLES = """\
  python scripts/download.py
  python scripts/download.py --data-dir data/mnist
  python scripts/download.py --mirror /media/usb/mnist --no-default-mirrors
  python scripts/download.py --mirror https://example.org/mnist/ --json
  MNIST_MIRROR=file:///srv/mnist python scripts/download.py --quiet
"""


def _main(argv: Sequence[str] | None) -> int:
    parser = make_parser("download.py", DESCRIPTION, EXAMPLES)
    add_data_options(parser)
    parser.add_argument(
        "--json", action="store_true", help="print a JSON summary on stdout (files, paths, sha256, status)"
    )
    args = parser.parse_args(argv)

    from mnist_app.download import default_data_dir, fetch_files

    data_dir = args.data_dir if args.data_dir is not None else default_data_dir()
    results = fetch_files(
        data_dir,
        args.mirror,
        quiet=args.quiet,  # progress and notes go to stderr; stdout stays clean for --json
        use_default_mirrors=not args.no_default_mirrors,
    )
    if args.json:
        summary = {
            "data_dir": str(results[0].path.parent) if results else str(data_dir),
            "files": [
                {
                    "name": r.name,
                    "path": str(r.path),
                    "size": r.size,
                    "md5": r.md5,
                    "sha256": r.sha256,
                    "status": r.status,
                    "mirror": r.mirror,  # password redacted
                    "moved_aside": str(r.moved_aside) if r.moved_aside else None,
                }
                for r in results
            ],
        }
        print(json.dumps(summary, indent=2))
    else:
        width = max(len(r.name) for r in results)
        for r in results:
            print(f"{r.name:<{width}}  {r.status.replace('_', ' '):<15}  sha256 {r.sha256[:16]}...  {r.path}")
        print(f"MNIST ready in {results[0].path.parent}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    return run("download.py", _main, argv)
