"""README.md, docs/ and .ci/run must agree with the code: CI runs exactly the test command a new
user is told to run, every option the documents name exists, every relative link resolves."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parent.parent
DOCUMENTS = [REPO_ROOT / "README.md", *sorted((REPO_ROOT / "docs").glob("*.md"))]
README_MAX_LINES = 200  # a front page; the reference lives in docs/


def _setup_commands() -> list[str]:
    """The shell commands in README's first fenced block (the set-up section)."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    block = re.search(r"```(?:bash|sh)?\n(.*?)```", text, re.S)
    assert block, "README.md has no fenced code block with the set-up commands"
    return [line for line in block.group(1).splitlines() if line.strip() and not line.startswith("#")]


def test_readme_opens_with_two_setup_commands() -> None:
    commands = _setup_commands()
    assert len(commands) == 2, commands
    assert "scripts/train.py" in commands[0]
    assert "pytest" in commands[1]


def test_ci_runs_readmes_exact_test_command() -> None:
    ci_lines = (REPO_ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert _setup_commands()[1] in ci_lines


def test_readme_is_a_front_page() -> None:
    lines = (REPO_ROOT / "README.md").read_text(encoding="utf-8").splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines; move reference text to docs/"


def _options(document: Path) -> set[str]:
    """The `--flags` a document names: in prose, and on the lines of its code blocks that run one
    of our commands (a `git ...` or `pip ...` line has options of its own; link targets such as
    #--json-output are not options)."""
    text = document.read_text(encoding="utf-8")

    def ours(block: re.Match) -> str:
        lines = block.group(0).splitlines()
        return "\n".join(line for line in lines if re.search(r"scripts/|mnist-app|mnist_app", line))

    text = re.sub(r"^```.*?^```", ours, text, flags=re.S | re.M)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", text))


@pytest.mark.slow
def test_every_option_the_documents_mention_exists() -> None:
    """Each `--flag` written in README.md or docs/*.md is accepted by at least one script."""
    helps = subprocess.run([sys.executable, "-m", "mnist_app", "--help"], capture_output=True, text=True,
                           cwd=REPO_ROOT, timeout=60).stdout
    for script in sorted((REPO_ROOT / "scripts").glob("*.py")):
        done = subprocess.run([sys.executable, str(script), "--help"], capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, f"{script.name} --help: {done.stderr}"
        helps += done.stdout
    known = set(re.findall(r"--[a-z][a-z0-9-]*", helps))
    unknown = {}
    for document in DOCUMENTS:
        mentioned = _options(document)
        if mentioned - known:
            unknown[document.relative_to(REPO_ROOT).as_posix()] = sorted(mentioned - known)
    assert unknown == {}
    assert len(_options(REPO_ROOT / "README.md")) > 10  # the front page does show the options that matter


def github_anchors(markdown: str) -> set[str]:
    """The #fragments GitHub gives a document's headings (lower case, punctuation dropped,
    spaces to hyphens, -1, -2 ... for repeats); code blocks are not headings."""
    anchors: set[str] = set()
    counts: dict[str, int] = {}
    text = re.sub(r"^```.*?^```", "", markdown, flags=re.S | re.M)
    for heading in re.findall(r"^#{1,6}\s+(.*?)\s*#*\s*$", text, flags=re.M):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        n = counts.get(slug, 0)
        counts[slug] = n + 1
        anchors.add(slug if n == 0 else f"{slug}-{n}")
    return anchors


def _relative_links(document: Path) -> list[str]:
    text = re.sub(r"^```.*?^```", "", document.read_text(encoding="utf-8"), flags=re.S | re.M)
    text = re.sub(r"`[^`\n]*`", "", text)  # inline code is not a link
    links = re.findall(r"\]\(([^)\s]+)\)", text)
    return [link for link in links if not re.match(r"[a-z][a-z0-9+.-]*:", link)]


@pytest.mark.parametrize("document", DOCUMENTS, ids=lambda p: p.relative_to(REPO_ROOT).as_posix())
def test_every_relative_link_resolves(document: Path) -> None:
    broken = []
    for link in _relative_links(document):
        target, _, fragment = link.partition("#")
        path = (document.parent / target).resolve() if target else document
        if not path.exists():
            broken.append(f"{link}: no such file")
        elif fragment and path.suffix == ".md" and fragment not in github_anchors(path.read_text(encoding="utf-8")):
            broken.append(f"{link}: no heading #{fragment} in {path.name}")
    assert broken == []


def test_anchor_rules_match_githubs() -> None:
    anchors = github_anchors("# Which model answers\n## predict — classify your own images\n## --json output\n"
                             "## Speed\n## Speed\n```\n# not a heading\n```\n")
    assert anchors == {"which-model-answers", "predict--classify-your-own-images", "--json-output",
                       "speed", "speed-1"}


def test_options_are_read_from_prose_and_from_our_command_lines(tmp_path: Path) -> None:
    document = tmp_path / "x.md"
    document.write_text("Use `--alpha`, see [json](#--json-output).\n\n```console\n"
                        "$ python scripts/train.py --beta\ngit worktree add --detach /tmp/x\n```\n", encoding="utf-8")
    assert _options(document) == {"--alpha", "--beta"}
