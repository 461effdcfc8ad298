"""The man pages (man/*.md, rendered by go-md2man) against the binary's own --help.

(a) every verb that `vsrv --help` lists has man/vsrv-VERB.8.md, named in vsrv.8.md, and the page
    names the verb's aliases and subcommands (network create|ls|inspect|rm and their aliases);
(b) every long flag that `vsrv [VERB [SUB]] --help` prints appears in that page, and every option
    the page defines (a definition-list term starting with **--...** or **-x**) exists in the
    binary: pages can neither miss a flag nor document one that is gone;
(c) every page renders with go-md2man, then `groff -man -Tutf8 -ww` and `man --warnings -l`
    without a warning, has the standard sections, and keeps its flags intact through rendering.

Pages of verbs that this binary does not have yet (resource and network verbs being written) are
checked only by (c). Needs no root and no container: only the binary (VSRV_BIN, default
build/cli/vsrv) and, for (c), go-md2man, groff and man-db. Standard library + pytest only.
"""
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
MAN_DIR = REPO / "man"
VSRV_BIN = os.environ.get("VSRV_BIN", str(REPO / "build" / "cli" / "vsrv"))

# Sections every page has (vsrv.8 calls its options GLOBAL OPTIONS; vsrv-network.8 has several).
REQUIRED_SECTIONS = ("NAME", "SYNOPSIS", "DESCRIPTION", "OPTIONS", "EXIT STATUS", "EXAMPLES", "SEE ALSO")
# Pages that also document the flags of another verb: vsrv-network.8 documents create/run's
# --network, --ip, --mac, --publish and --net-rate.
ALSO_DOCUMENTS = {"network": ["create"]}

LONG_FLAG = r"--[A-Za-z0-9][A-Za-z0-9-]*"


def _bin_ok():
    return os.path.isfile(VSRV_BIN) and os.access(VSRV_BIN, os.X_OK)


def _run(argv, timeout=30, env=None):
    return subprocess.run(argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, timeout=timeout, env=env)


def _help(*words):
    """stdout of `vsrv WORDS... --help`; fails the test when it does not exit 0."""
    r = _run([VSRV_BIN, *words, "--help"])
    assert r.returncode == 0, f"{' '.join(['vsrv', *words, '--help'])}: rc={r.returncode} err={r.stderr!r}"
    return r.stdout


def _help_sections(text):
    """CLI11 help -> {"Options": [entry lines], "Subcommands": [...], ...} (entries at indent 2)."""
    sections, cur = {}, None
    for line in text.splitlines():
        m = re.match(r"^([A-Z][A-Za-z ]*):\s*$", line)
        if m:
            cur = sections.setdefault(m.group(1), [])
        elif cur is not None and re.match(r"^  \S", line):
            cur.append(line[2:])
    return sections


def _long_flags(help_text):
    """The long flags of the Options section: '-b,--bundle TEXT' -> {'--bundle'}."""
    flags = set()
    for entry in _help_sections(help_text).get("Options", []):
        names = entry.split()[0]
        for name in names.split(","):
            if re.fullmatch(LONG_FLAG, name):
                flags.add(name)
    return flags


def _subcommands(help_text):
    """[(name, [aliases])] from the Subcommands section: 'list, ls   list containers'."""
    out = []
    for entry in _help_sections(help_text).get("Subcommands", []):
        head = re.split(r"\s{2,}", entry.strip(), maxsplit=1)[0]
        names = [n.strip() for n in head.split(",") if n.strip()]
        if names and all(re.fullmatch(r"[a-z][a-z0-9-]*", n) for n in names):
            out.append((names[0], names[1:]))
    return out


def _flags_of_verb(verb):
    """Long flags of `vsrv VERB --help` and, for verbs with subcommands, of `vsrv VERB SUB --help`."""
    text = _help(verb)
    flags = {verb: _long_flags(text)}
    for sub, _ in _subcommands(text):
        flags[f"{verb} {sub}"] = _long_flags(_help(verb, sub))
    return flags


def _mentions(page_text, flag):
    return re.search(r"(?<![A-Za-z0-9-])" + re.escape(flag) + r"(?![A-Za-z0-9-])", page_text) is not None


def _defined_options(page_text):
    """Long flags that the page defines: definition-list terms such as '**-b**, **--bundle** *path*'."""
    flags = set()
    lines = page_text.splitlines()
    for line, nxt in zip(lines, lines[1:]):
        if line.startswith("**-") and nxt.startswith(": "):
            flags.update(re.findall(LONG_FLAG, line))
    return flags


def _page(name):
    return MAN_DIR / f"{name}.8.md"


def _verbs():
    if not _bin_ok():
        return []
    r = _run([VSRV_BIN, "--help"])
    return _subcommands(r.stdout) if r.returncode == 0 else []


VERBS = _verbs()
VERB_PARAMS = [pytest.param(v, a, id=v) for v, a in VERBS] or [
    pytest.param(None, None, id="no-binary", marks=pytest.mark.skip(reason=f"no vsrv binary at {VSRV_BIN} (set VSRV_BIN)"))]
PAGES = sorted(MAN_DIR.glob("*.md"))


# ---- (a) and (b): pages against the binary -----------------------------------------------------

def test_main_page_has_global_flags():
    if not _bin_ok():
        pytest.skip(f"no vsrv binary at {VSRV_BIN} (set VSRV_BIN)")
    text = _help()
    page = _page("vsrv")
    assert page.is_file(), "man/vsrv.8.md is missing"
    body = page.read_text()
    missing = sorted(f for f in _long_flags(text) if not _mentions(body, f))
    assert not missing, f"man/vsrv.8.md does not document the global flags {missing}"
    unknown = sorted(_defined_options(body) - _long_flags(text))
    assert not unknown, f"man/vsrv.8.md defines global options that `vsrv --help` does not list: {unknown}"
    assert VERBS, "`vsrv --help` lists no subcommands"


@pytest.mark.parametrize("verb,aliases", VERB_PARAMS)
def test_verb_has_page(verb, aliases):
    page = _page(f"vsrv-{verb}")
    assert page.is_file(), f"`vsrv --help` lists '{verb}' but man/vsrv-{verb}.8.md does not exist"
    body = page.read_text()
    for alias in aliases:
        assert re.search(r"\*\*" + re.escape(alias) + r"\*\*", body), f"{page.name} does not mention the alias '{alias}'"
    for sub, sub_aliases in _subcommands(_help(verb)):
        for name in [sub, *sub_aliases]:
            assert re.search(r"\*\*[^*\n]*(?<![\w-])" + re.escape(name) + r"(?![\w-])[^*\n]*\*\*", body), (
                f"{page.name} does not mention '{verb} {name}' in bold")
    main = _page("vsrv").read_text()
    assert f"**{verb}**" in main and f"**vsrv-{verb}**(8)" in main, f"vsrv.8.md does not list '{verb}' / vsrv-{verb}(8)"


@pytest.mark.parametrize("verb,aliases", VERB_PARAMS)
def test_verb_page_flags_match_help(verb, aliases):
    page = _page(f"vsrv-{verb}")
    if not page.is_file():
        pytest.fail(f"man/vsrv-{verb}.8.md does not exist")
    body = page.read_text()
    per_command = _flags_of_verb(verb)
    missing = {cmd: sorted(f for f in flags if not _mentions(body, f)) for cmd, flags in per_command.items()}
    missing = {cmd: fl for cmd, fl in missing.items() if fl}
    assert not missing, f"{page.name} does not document flags printed by --help: {missing}"
    known = set().union(*per_command.values())
    for other in ALSO_DOCUMENTS.get(verb, []):
        known |= _long_flags(_help(other))
    unknown = sorted(_defined_options(body) - known)
    assert not unknown, f"{page.name} defines options that `vsrv {verb} --help` does not print: {unknown}"


def test_availability_notes_match_binary():
    """A page for a verb this binary lacks (still being written) says so in an AVAILABILITY section;
    once the verb exists, that note must go (and the page is then checked against --help)."""
    if not _bin_ok():
        pytest.skip(f"no vsrv binary at {VSRV_BIN} (set VSRV_BIN)")
    have = {v for v, _ in VERBS}
    for page in PAGES:
        m = re.fullmatch(r"vsrv-([a-z0-9-]+)\.8\.md", page.name)
        if not m:
            continue
        noted = re.search(r"^# AVAILABILITY$", page.read_text(), re.M) is not None
        if m.group(1) not in have:
            assert noted, f"{page.name}: `vsrv --help` has no '{m.group(1)}'; add an AVAILABILITY section saying so"
        else:
            assert not noted, f"{page.name}: '{m.group(1)}' exists now; drop the AVAILABILITY section and check the page"


# ---- (c): rendering ----------------------------------------------------------------------------

def test_pages_exist():
    assert _page("vsrv").is_file()
    assert len(PAGES) > 1, "no per-verb pages in man/"


@pytest.mark.parametrize("src", PAGES, ids=[p.name for p in PAGES])
def test_page_source_structure(src):
    text = src.read_text()
    page = src.name[:-3]                         # vsrv-run.8
    name, section = page.rsplit(".", 1)
    first = text.splitlines()[0]
    m = re.match(r"^% (\S+) (\d)\b", first)
    assert m, f"{src.name}: first line must be the title block '% {name.upper()} {section} ...'"
    assert m.group(1).lower() == name and m.group(2) == section, f"{src.name}: title '{first}' does not match the file name"
    headings = re.findall(r"^# (.+?)\s*$", text, re.M)
    for req in REQUIRED_SECTIONS:
        ok = any(h == req or (req == "OPTIONS" and "OPTIONS" in h) for h in headings)
        assert ok, f"{src.name}: no '# {req}' section (has {headings})"
    assert re.search(r"^# NAME\n" + re.escape(name) + r" - \S", text, re.M), f"{src.name}: NAME must read '{name} - ...'"


def _render(src, tmp_path):
    if not shutil.which("go-md2man"):
        pytest.skip("go-md2man not installed (Debian package go-md2man)")
    out = tmp_path / src.name[:-3]
    r = _run(["go-md2man", "-in", str(src), "-out", str(out)])
    assert r.returncode == 0 and out.is_file(), f"go-md2man {src.name}: rc={r.returncode} {r.stderr}"
    assert not r.stderr.strip(), f"go-md2man {src.name}: {r.stderr}"
    return out


@pytest.mark.parametrize("src", PAGES, ids=[p.name for p in PAGES])
def test_page_renders_without_warnings(src, tmp_path):
    roff = _render(src, tmp_path)
    env = dict(os.environ, LC_ALL="C.UTF-8", MANWIDTH="80", MAN_KEEP_FORMATTING="", MANPAGER="cat", PAGER="cat")
    checked = False
    if shutil.which("groff"):
        r = _run(["groff", "-man", "-Tutf8", "-ww", "-z", str(roff)], env=env)
        assert r.returncode == 0 and not r.stderr.strip(), f"groff warnings for {src.name}:\n{r.stderr}"
        checked = True
    if shutil.which("man"):
        r = _run(["man", "--warnings", "-l", str(roff)], env=env)
        assert r.returncode == 0, f"man -l {src.name}: rc={r.returncode} {r.stderr}"
        assert not r.stderr.strip(), f"man --warnings -l {src.name}:\n{r.stderr}"
        assert "NAME" in r.stdout and "SYNOPSIS" in r.stdout, r.stdout[:500]
        checked = True
    if not checked:
        pytest.skip("neither groff nor man installed")


@pytest.mark.parametrize("src", PAGES, ids=[p.name for p in PAGES])
def test_flags_survive_rendering(src, tmp_path):
    """go-md2man must not turn '--flag' into a dash or escape sequence: each flag of the source is in the text."""
    roff = _render(src, tmp_path)
    if not shutil.which("groff"):
        pytest.skip("groff not installed")
    # Very long lines and no hyphenation, so no flag is split across lines.
    r = _run(["groff", "-man", "-Tutf8", "-P-cbou", "-rLL=2000n", "-rHY=0", str(roff)],
             env=dict(os.environ, LC_ALL="C.UTF-8"))
    assert r.returncode == 0, r.stderr
    text = r.stdout.replace("\u2010", "-").replace("\u2212", "-")
    flags = set(re.findall(r"(?<![A-Za-z0-9-])" + LONG_FLAG, src.read_text()))
    lost = sorted(f for f in flags if not _mentions(text, f))
    assert not lost, f"{src.name}: flags missing from the rendered page: {lost}"
