"""The Chinese edition: build notebooks/zh/ from the English notebooks and i18n/zh_CN/*.po, and check they agree.

    python scripts/i18n.py extract   # add an entry for every new English Markdown cell; mark changed ones fuzzy
    python scripts/i18n.py build     # write notebooks/zh/*.ipynb (and the README.zh-CN.md times); `make zh`
    python scripts/i18n.py check     # report missing / stale / obsolete / code drift / not regenerated; exit 1

The English notebooks are the source. A catalogue holds one entry per English Markdown cell: msgctxt = the cell
id, msgid = its English source, msgstr = the Chinese cell (see i18n/README.md). Code cells, outputs and metadata
are copied unchanged. The one English edit that needs no translator is the measured time in a title ("Time on a
laptop CPU: about 65 s", rewritten by every `make render`): the build copies the new figure into the translation.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import sys
from dataclasses import dataclass
from pathlib import Path

import polib

ROOT = Path(__file__).resolve().parents[1]
LANG = "zh_CN"
#: Same pattern as tools.runner.TIME_LINE (kept here so the script needs no torch import).
TIME_LINE = re.compile(r"(Time on a laptop CPU: about )(\d+(?:\.\d+)? (?:min|s))")
#: Same pattern as tools.runner.RESULT: a number the Markdown quotes from the run, ``0.813 <!-- result: KEY -->``.
RESULT = re.compile(r"(-?\d[\d,]*(?:\.\d+)?)(\s*(?:%|s|min|MB|GB|×)?\s*\**\s*<!-- result: ([\w.]+) -->)")
#: The same line in the Chinese titles ("笔记本 CPU 用时：约 65 s").
ZH_TIME_LINE = re.compile(r"(用时：约 )(\d+(?:\.\d+)? (?:min|s))")
#: A notebook-table row of either README: ``| 04 | [...](...) | ... | <time> |``.
README_ROW = re.compile(r"^(\| (\d\d) \|.*\| )([^|]+)( \|)$", re.M)
HEADING = re.compile(r"^(#{1,6}) ([\d.]*\d)?", re.M)
FENCE = re.compile(r"^```.*?^```", re.M | re.S)
LINK = re.compile(r"\]\(([^)\s]+)\)")
HEADER = {
    "Project-Id-Version": "lora-lab",
    "Language": LANG,
    "MIME-Version": "1.0",
    "Content-Type": "text/plain; charset=UTF-8",
    "Content-Transfer-Encoding": "8bit",
}


@dataclass(frozen=True)
class Problem:
    kind: str  # missing | stale | obsolete | structure | code-drift | not-regenerated | readme
    where: str  # notebook stem (and cell id) or file
    detail: str

    def __str__(self) -> str:
        return f"{self.kind:<15} {self.where}: {self.detail}"


def english_notebooks(root: Path = ROOT, only: list[str] | None = None) -> list[Path]:
    """The English notebooks in order, optionally only those whose name starts with one of ``only`` (``"04"``)."""
    found = sorted((root / "notebooks").glob("[0-9][0-9]_*.ipynb"))
    return [p for p in found if not only or any(p.stem.startswith(o) for o in only)]


def catalogue_path(nb: Path, root: Path = ROOT) -> Path:
    return root / "i18n" / LANG / f"{nb.stem}.po"


def zh_path(nb: Path, root: Path = ROOT) -> Path:
    return root / "notebooks" / "zh" / nb.name


def source(cell: dict) -> str:
    return "".join(cell["source"])


def dump(nb: dict) -> str:
    """The same serialization `make render` writes, so regenerated files diff cleanly."""
    return json.dumps(nb, indent=1, ensure_ascii=False) + "\n"


def load_catalogue(path: Path) -> polib.POFile:
    if path.exists():
        return polib.pofile(str(path), wrapwidth=0)
    po = polib.POFile(wrapwidth=0)
    po.metadata = dict(HEADER)
    return po


def entries(po: polib.POFile) -> dict[str, polib.POEntry]:
    return {e.msgctxt: e for e in po if not e.obsolete}


def _time(text: str) -> str | None:
    m = TIME_LINE.search(text)
    return m.group(2) if m else None


def _unstamped(text: str) -> str:
    """``text`` without what a run writes into it: the title's time and the tagged result numbers."""
    return RESULT.sub(lambda m: "#" + m.group(2), TIME_LINE.sub(r"\1", text))


def retime(msgid: str, msgstr: str, english: str) -> str | None:
    """The translation of ``english`` when it differs from ``msgid`` only in what a run stamps, else None.

    Stamped are the measured title time and the numbers tagged ``<!-- result: KEY -->``. The old duration
    (``"65 s"``) is replaced in the Chinese text by the new one; where the Chinese text does not show the old
    duration once (an earlier edit left it behind), its title line (``用时：约 ...``) takes the new one; a translation
    that wrote the duration some other way cannot be updated safely and stays stale. Each tagged number takes the
    English cell's value for its key.
    """
    if _unstamped(msgid) != _unstamped(english):
        return None
    out = msgstr
    old, new = _time(msgid), _time(english)
    if old != new:
        if old is None or new is None:
            return None
        if msgstr.count(old) == 1:
            out = msgstr.replace(old, new)
        elif len(ZH_TIME_LINE.findall(msgstr)) == 1:
            out = ZH_TIME_LINE.sub(lambda m: m.group(1) + new, msgstr)
        else:
            return None
    values = {m.group(3): m.group(1) for m in RESULT.finditer(english)}
    return RESULT.sub(lambda m: values.get(m.group(3), m.group(1)) + m.group(2), out)


def translate_cell(cell: dict, entry: polib.POEntry | None) -> tuple[str, Problem | None]:
    """The Chinese source of one English Markdown cell; falls back to the English text when there is none."""
    text, where = source(cell), cell["id"]
    if entry is None or not entry.msgstr:
        return text, Problem("missing", where, "no translation")
    if "fuzzy" in entry.flags:
        return text, Problem("stale", where, "marked fuzzy: review the translation, then drop the flag")
    if entry.msgid == text:
        return entry.msgstr, None
    retimed = retime(entry.msgid, entry.msgstr, text)
    if retimed is not None:
        return retimed, None
    return text, Problem("stale", where, "the English cell changed since it was translated (run extract)")


def structure(english: str, chinese: str) -> list[str]:
    """What a translation must keep: heading levels and numbers, fenced code, and the English-version link."""
    out = []
    if HEADING.findall(english) != HEADING.findall(chinese):
        out.append(f"headings {HEADING.findall(english)} became {HEADING.findall(chinese)}")
    if FENCE.findall(english) != FENCE.findall(chinese):
        out.append("a fenced code block differs from the English one")
    return out


def broken_links(chinese: str, root: Path) -> list[str]:
    """Relative link targets that do not exist from notebooks/zh/. A sibling notebook (``05_evaluation.ipynb``)
    is the Chinese twin, which the build writes for every English notebook."""
    bad = []
    for target in LINK.findall(chinese):
        path = target.split("#")[0]
        if re.match(r"[a-z]+:", target) or not path:
            continue
        if "/" not in path and path.endswith(".ipynb"):
            path = f"../{path}"  # its English twin
        if not Path(os.path.normpath(root / "notebooks" / "zh" / path)).exists():
            bad.append(target)
    return bad


def build_notebook(nb_path: Path, root: Path = ROOT) -> tuple[dict, list[Problem]]:
    """The Chinese notebook (in memory) and the catalogue problems found while building it."""
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    po = load_catalogue(catalogue_path(nb_path, root))
    known = entries(po)
    zh = copy.deepcopy(nb)
    problems: list[Problem] = []
    ids = set()
    for cell in zh["cells"]:
        ids.add(cell["id"])
        if cell["cell_type"] != "markdown":
            continue
        english = source(cell)
        text, problem = translate_cell(cell, known.get(cell["id"]))
        where = f"{nb_path.stem} cell {cell['id']}"
        if problem:
            problems.append(Problem(problem.kind, where, problem.detail))
        elif text != english:
            problems += [Problem("structure", where, d) for d in structure(english, text)]
            for target in broken_links(text, root):
                problems.append(
                    Problem("structure", where, f"link {target} does not exist from notebooks/zh/")
                )
        cell["source"] = text.splitlines(keepends=True)
    for cid in sorted(set(known) - ids):
        problems.append(
            Problem("obsolete", nb_path.stem, f"entry {cid} names no cell of the English notebook")
        )
    return zh, problems


def code_drift(english: dict, chinese: dict) -> list[str]:
    """Cells of the committed Chinese notebook that are not the English twin (code, outputs, order)."""
    en, zh = english["cells"], chinese["cells"]
    if [(c["id"], c["cell_type"]) for c in en] != [(c["id"], c["cell_type"]) for c in zh]:
        return ["its cells (ids, types, order) differ from the English notebook"]
    return [
        f"code cell {a['id']} differs from the English one"
        for a, b in zip(en, zh, strict=True)
        if a["cell_type"] == "code" and a != b
    ]


def readme_times(root: Path = ROOT) -> dict[str, str]:
    """The README.md notebook table's times, ``{"04": "20.5 min"}``."""
    text = (root / "README.md").read_text(encoding="utf-8")
    return {m.group(2): re.sub(r"^about ", "", m.group(3).strip()) for m in README_ROW.finditer(text)}


def zh_readme(root: Path = ROOT) -> str | None:
    """README.zh-CN.md with its table's times copied from README.md (``约 20.5 min``); None if it is absent."""
    path = root / "README.zh-CN.md"
    if not path.exists():
        return None
    times = readme_times(root)
    return README_ROW.sub(
        lambda m: m.group(1) + f"约 {times[m.group(2)]}" + m.group(4) if m.group(2) in times else m.group(0),
        path.read_text(encoding="utf-8"),
    )


def check(root: Path = ROOT, only: list[str] | None = None) -> list[Problem]:
    """Everything that keeps the committed Chinese edition from being exactly what `make zh` builds now."""
    problems: list[Problem] = []
    for nb_path in english_notebooks(root, only):
        zh, found = build_notebook(nb_path, root)
        problems += found
        committed = zh_path(nb_path, root)
        if not committed.exists():
            problems.append(
                Problem("not-regenerated", nb_path.stem, "notebooks/zh/ has no copy: run make zh")
            )
            continue
        text = committed.read_text(encoding="utf-8")
        english = json.loads(nb_path.read_text(encoding="utf-8"))
        drift = code_drift(english, json.loads(text))
        problems += [
            Problem("code-drift", nb_path.stem, d + " (edit the English notebook, then make zh)")
            for d in drift
        ]
        if text != dump(zh):
            problems.append(Problem("not-regenerated", nb_path.stem, "differs from what make zh builds now"))
    readme = zh_readme(root)
    if readme is None:
        problems.append(Problem("readme", "README.zh-CN.md", "missing"))
    elif readme != (root / "README.zh-CN.md").read_text(encoding="utf-8"):
        problems.append(
            Problem("readme", "README.zh-CN.md", "its notebook times differ from README.md: make zh")
        )
    return problems


def build(root: Path = ROOT, only: list[str] | None = None) -> list[Problem]:
    """Write notebooks/zh/ (and README.zh-CN.md's times); return the cells that fell back to English and why."""
    problems: list[Problem] = []
    for nb_path in english_notebooks(root, only):
        zh, found = build_notebook(nb_path, root)
        problems += found
        out = zh_path(nb_path, root)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(dump(zh), encoding="utf-8")
    readme = zh_readme(root)
    if readme is not None:
        (root / "README.zh-CN.md").write_text(readme, encoding="utf-8")
    return problems


def extract(root: Path = ROOT, only: list[str] | None = None) -> list[str]:
    """Refresh the catalogues from the English notebooks: new cells get an empty entry, changed ones are marked
    fuzzy with the old English kept as ``#| msgid``; entries of deleted cells are dropped. Returns what changed."""
    changes = []
    for nb_path in english_notebooks(root, only):
        path = catalogue_path(nb_path, root)
        po = load_catalogue(path)
        known = entries(po)
        by_msgid = {e.msgid: e for e in known.values()}
        cells = json.loads(nb_path.read_text(encoding="utf-8"))["cells"]
        fresh = polib.POFile(wrapwidth=0)
        fresh.metadata = {**HEADER, **po.metadata}
        for cell in (c for c in cells if c["cell_type"] == "markdown"):
            text, entry = source(cell), known.get(cell["id"])
            if entry is None and text in by_msgid:  # the cell got a new id: keep its translation
                entry = by_msgid[text]
                entry.msgctxt = cell["id"]
            if entry is None:
                entry = polib.POEntry(msgctxt=cell["id"], msgid=text, msgstr="")
                changes.append(f"{nb_path.stem} cell {cell['id']}: new, to translate")
            elif entry.msgid != text:
                retimed = retime(entry.msgid, entry.msgstr, text)
                if retimed is not None:
                    entry.msgstr = retimed
                else:
                    entry.previous_msgid = entry.msgid
                    if "fuzzy" not in entry.flags:
                        entry.flags.append("fuzzy")
                    changes.append(f"{nb_path.stem} cell {cell['id']}: changed, marked fuzzy")
                entry.msgid = text
            fresh.append(entry)
        gone = set(known) - {e.msgctxt for e in fresh}
        changes += [f"{nb_path.stem}: dropped the entry of deleted cell {cid}" for cid in sorted(gone)]
        path.parent.mkdir(parents=True, exist_ok=True)
        fresh.save(str(path))
    return changes


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["extract", "build", "check"])
    parser.add_argument("notebooks", nargs="*", help="only these notebooks, by prefix (04 or 04_training)")
    parser.add_argument("--root", type=Path, default=ROOT, help=argparse.SUPPRESS)  # the tests' copies
    args = parser.parse_args(argv)
    root, only = args.root, args.notebooks or None
    if args.command == "extract":
        for line in extract(root, only):
            print(line)
        return 0
    problems = (build if args.command == "build" else check)(root, only)
    for p in problems:
        print(p)
    if args.command == "build":
        n = len(english_notebooks(root, only))
        print(
            f"wrote {n} notebooks to notebooks/zh/; "
            + (f"{len(problems)} problems above" if problems else "every Markdown cell translated")
        )
        return 0
    counts = {k: sum(p.kind == k for p in problems) for k in dict.fromkeys(p.kind for p in problems)}
    print(f"{len(problems)} problems {counts}" if problems else "the Chinese edition is in sync")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
