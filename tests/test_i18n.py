"""The Chinese edition (notebooks/zh/) is exactly what `make zh` builds from the English notebooks and the catalogues.

The checks live in scripts/i18n.py; the tests below run them on the repository, then on a copy of it in which each
kind of drift is made on purpose, to prove that every check can fail.
"""

from __future__ import annotations

import importlib.util
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import polib
import pytest

ROOT = Path(__file__).resolve().parents[1]
_spec = importlib.util.spec_from_file_location("i18n_script", ROOT / "scripts" / "i18n.py")
i18n = importlib.util.module_from_spec(_spec)
sys.modules[_spec.name] = i18n  # dataclasses look their module up there
_spec.loader.exec_module(i18n)

STEMS = [p.stem for p in i18n.english_notebooks()]
FIX = "fix: python scripts/i18n.py extract; translate the msgstr (drop the fuzzy flag); make zh"
SHARED_CHECK = ROOT.parent / "shared" / "tools" / "check_notebooks.py"


# --- the repository ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("stem", STEMS)
def test_chinese_notebook_is_in_sync(stem: str) -> None:
    problems = i18n.check(only=[stem])
    problems = [p for p in problems if p.kind != "readme"]
    assert not problems, "\n".join(map(str, problems)) + "\n" + FIX


def test_chinese_readme_times_match_the_english_readme() -> None:
    problems = [p for p in i18n.check(only=["00"]) if p.kind == "readme"]
    assert not problems, "\n".join(map(str, problems))
    zh = {m.group(2) for m in i18n.README_ROW.finditer((ROOT / "README.zh-CN.md").read_text("utf-8"))}
    assert zh == set(i18n.readme_times()), (
        "README.zh-CN.md's notebook table lists other notebooks than README.md's"
    )


def test_readmes_and_glossary_link_each_other() -> None:
    en, zh = (ROOT / "README.md").read_text("utf-8"), (ROOT / "README.zh-CN.md").read_text("utf-8")
    glossary = ROOT / "docs" / "glossary.zh-CN.md"
    assert "(README.zh-CN.md)" in en.split("\n## ")[0], "README.md should link to README.zh-CN.md at the top"
    assert "(README.md)" in zh.split("\n## ")[0], "README.zh-CN.md should link back to README.md at the top"
    assert "(docs/glossary.zh-CN.md)" in en and "(docs/glossary.zh-CN.md)" in zh
    for doc in (ROOT / "README.zh-CN.md", glossary):
        for target in i18n.LINK.findall(doc.read_text("utf-8")):
            if not re.match(r"[a-z]+:", target):
                assert (doc.parent / target.split("#")[0]).exists(), f"{doc.name}: broken link {target}"


def test_the_glossary_has_the_core_terms() -> None:
    text = (ROOT / "docs" / "glossary.zh-CN.md").read_text("utf-8")
    for term in ["低秩适配", "监督微调", "全参数微调", "梯度累积", "学习率预热", "量化", "QLoRA", "适配器", "合并权重",
                 "显存", "混合精度", "灾难性遗忘"]:  # fmt: skip
        assert f"| {term}" in text, f"the glossary has no row for {term}"


@pytest.mark.skipif(
    not SHARED_CHECK.is_file(), reason="../shared/tools/check_notebooks.py is not beside this clone"
)
def test_chinese_notebooks_pass_the_shared_notebook_checks() -> None:
    proc = subprocess.run(
        [sys.executable, str(SHARED_CHECK), "notebooks/zh"], cwd=ROOT, capture_output=True, text=True
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_setup_runs_a_chinese_notebook_from_notebooks(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Code cells are the English ones, written for cwd = notebooks/ (DATA_DIR = "../data/extraction")."""
    from helpers import env

    monkeypatch.chdir(ROOT / "notebooks" / "zh")
    env.enter_notebooks_folder()
    assert Path.cwd() == (ROOT / "notebooks").resolve()
    assert Path("../data/extraction").is_dir()
    monkeypatch.chdir(tmp_path)  # anywhere else: left alone
    env.enter_notebooks_folder()
    assert Path.cwd() == tmp_path.resolve()


@pytest.mark.slow
def test_chinese_start_here_smoke_run(tmp_path: Path) -> None:
    """One Chinese notebook really runs (papermill, SMOKE=True) from notebooks/zh/, and records what 00 records."""
    from tests.smoke import run_notebook
    from tools.nb_checks import nb_00_start_here

    nb = ROOT / "notebooks" / "zh" / "00_start_here.ipynb"
    results = run_notebook(nb, tmp_path, cwd=nb.parent)
    assert results, "the Chinese 00 recorded no results"
    nb_00_start_here.check(results)
    executed = json.loads((tmp_path / nb.name).read_text("utf-8"))
    assert "从这里开始" in "".join(executed["cells"][0]["source"])


# --- every check can fail: drift made on purpose in a copy -------------------------------------------------------


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A copy of what the checks read (all English notebooks, so links resolve), checked for notebook 00 only."""
    for name in ["README.md", "README.zh-CN.md"]:
        shutil.copy(ROOT / name, tmp_path / name)
    shutil.copytree(
        ROOT / "notebooks", tmp_path / "notebooks", ignore=shutil.ignore_patterns(".ipynb_checkpoints")
    )
    (tmp_path / "i18n" / "zh_CN").mkdir(parents=True)
    shutil.copy(ROOT / "i18n" / "zh_CN" / "00_start_here.po", tmp_path / "i18n" / "zh_CN")
    i18n.build(tmp_path, only=["00"])
    assert i18n.check(tmp_path, only=["00"]) == []
    return tmp_path


def kinds(root: Path) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for p in i18n.check(root, only=["00"]):
        out.setdefault(p.kind, set()).add(p.where)
    return out


def edit_notebook(path: Path, cell_id: str, change) -> None:
    nb = json.loads(path.read_text("utf-8"))
    cell = next(c for c in nb["cells"] if c["id"] == cell_id)
    cell["source"] = change("".join(cell["source"])).splitlines(keepends=True)
    path.write_text(i18n.dump(nb), encoding="utf-8")


def first_cell(root: Path, kind: str, zh: bool = False) -> str:
    nb = json.loads((root / "notebooks" / ("zh" if zh else "") / "00_start_here.ipynb").read_text("utf-8"))
    return next(c["id"] for c in nb["cells"] if c["cell_type"] == kind)


def catalogue(root: Path) -> Path:
    return root / "i18n" / "zh_CN" / "00_start_here.po"


def test_an_edited_english_cell_makes_its_translation_stale(repo: Path) -> None:
    cell = "824e51a5"  # "## 1. Environment check"
    edit_notebook(repo / "notebooks" / "00_start_here.ipynb", cell, lambda s: s.replace("3 GB", "4 GB"))
    found = kinds(repo)
    assert found["stale"] == {f"00_start_here cell {cell}"}
    assert "not-regenerated" in found  # the build now falls back to the English cell
    assert i18n.main(["check", "00", "--root", str(repo)]) == 1

    # extract keeps the translation, marks it fuzzy with the old English; it stays stale until a translator edits it
    i18n.extract(repo, only=["00"])
    entry = polib.pofile(str(catalogue(repo))).find(cell, by="msgctxt")
    assert "fuzzy" in entry.flags and "3 GB" in entry.previous_msgid and "4 GB" in entry.msgid
    assert kinds(repo)["stale"] == {f"00_start_here cell {cell}"}
    po = polib.pofile(str(catalogue(repo)), wrapwidth=0)
    entry = po.find(cell, by="msgctxt")
    entry.msgstr, entry.flags, entry.previous_msgid = entry.msgstr.replace("3 GB", "4 GB"), [], None
    po.save(str(catalogue(repo)))
    i18n.build(repo, only=["00"])
    assert i18n.check(repo, only=["00"]) == []


def test_a_new_english_cell_without_translation_is_missing(repo: Path) -> None:
    po = polib.pofile(str(catalogue(repo)), wrapwidth=0)
    po.remove(po.find("96521b3b", by="msgctxt"))  # "## 3. A first chat"
    po.save(str(catalogue(repo)))
    assert kinds(repo)["missing"] == {"00_start_here cell 96521b3b"}
    i18n.extract(repo, only=["00"])  # adds it back, empty
    assert polib.pofile(str(catalogue(repo))).find("96521b3b", by="msgctxt").msgstr == ""
    assert kinds(repo)["missing"] == {"00_start_here cell 96521b3b"}


def test_an_entry_for_a_deleted_cell_is_obsolete(repo: Path) -> None:
    po = polib.pofile(str(catalogue(repo)), wrapwidth=0)
    po.append(polib.POEntry(msgctxt="deadbeef", msgid="## Gone", msgstr="## 已删除"))
    po.save(str(catalogue(repo)))
    assert set(kinds(repo)) == {"obsolete"}
    i18n.extract(repo, only=["00"])  # drops it
    assert i18n.check(repo, only=["00"]) == []


def test_a_chinese_code_cell_edited_by_hand_is_code_drift(repo: Path) -> None:
    zh = repo / "notebooks" / "zh" / "00_start_here.ipynb"
    edit_notebook(zh, first_cell(repo, "code", zh=True), lambda s: s + "\nprint('只在中文版里')")
    assert set(kinds(repo)) == {"code-drift", "not-regenerated"}
    i18n.build(repo, only=["00"])
    assert i18n.check(repo, only=["00"]) == []


def test_an_english_code_change_needs_make_zh(repo: Path) -> None:
    edit_notebook(
        repo / "notebooks" / "00_start_here.ipynb", first_cell(repo, "code"), lambda s: s + "\nSEED = 1"
    )
    assert set(kinds(repo)) == {"code-drift", "not-regenerated"}
    i18n.build(repo, only=["00"])
    assert i18n.check(repo, only=["00"]) == []


def test_a_changed_translation_needs_make_zh(repo: Path) -> None:
    po = polib.pofile(str(catalogue(repo)), wrapwidth=0)
    po.find("28f49f7a", by="msgctxt").msgstr += "\n\n（译注）"
    po.save(str(catalogue(repo)))
    assert set(kinds(repo)) == {"not-regenerated"}
    (repo / "notebooks" / "zh" / "00_start_here.ipynb").unlink()
    assert set(kinds(repo)) == {"not-regenerated"}


def test_a_translation_that_loses_a_heading_number_is_reported(repo: Path) -> None:
    po = polib.pofile(str(catalogue(repo)), wrapwidth=0)
    entry = po.find("96521b3b", by="msgctxt")
    entry.msgstr = entry.msgstr.replace("## 3. ", "## ")
    po.save(str(catalogue(repo)))
    assert "structure" in kinds(repo)


def test_a_new_measured_time_flows_into_the_translation(repo: Path) -> None:
    """`make render` rewrites the title's time: the build copies it into the Chinese title, no translator needed."""
    en = repo / "notebooks" / "00_start_here.ipynb"
    now = i18n.TIME_LINE.search(en.read_text("utf-8")).group(2)
    new = "37 s" if now != "37 s" else "41 s"  # a time the title does not already show
    edit_notebook(en, "83456505", lambda s: i18n.TIME_LINE.sub(rf"\g<1>{new}", s))
    assert set(kinds(repo)) == {"not-regenerated"}  # not stale
    i18n.build(repo, only=["00"])
    assert i18n.check(repo, only=["00"]) == []
    zh = json.loads((repo / "notebooks" / "zh" / "00_start_here.ipynb").read_text("utf-8"))
    assert f"约 {new}" in "".join(zh["cells"][0]["source"])


def test_a_new_measured_time_mends_a_chinese_title_that_had_fallen_behind(repo: Path) -> None:
    """A Chinese title whose time already differed from its msgid's (an old hand edit) still takes the new time."""
    import polib

    po_path = catalogue(repo)
    po = polib.pofile(str(po_path), wrapwidth=0)
    entry = next(e for e in po if e.msgctxt == "83456505")
    behind = "99 min" if "99 min" not in entry.msgid else "98 min"
    entry.msgstr = i18n.ZH_TIME_LINE.sub(rf"\g<1>{behind}", entry.msgstr)
    assert f"约 {behind}" in entry.msgstr and i18n._time(entry.msgid) != behind
    po.save(str(po_path))
    en = repo / "notebooks" / "00_start_here.ipynb"
    now = i18n.TIME_LINE.search(en.read_text("utf-8")).group(2)
    new = "37 s" if now != "37 s" else "41 s"
    edit_notebook(en, "83456505", lambda s: i18n.TIME_LINE.sub(rf"\g<1>{new}", s))
    assert i18n.extract(repo, only=["00"]) == []  # retimed: neither fuzzy nor new
    entry = next(e for e in polib.pofile(str(po_path)) if e.msgctxt == "83456505")
    assert "fuzzy" not in entry.flags and f"约 {new}" in entry.msgstr and behind not in entry.msgstr
    i18n.build(repo, only=["00"])
    assert i18n.check(repo, only=["00"]) == []
    zh = json.loads((repo / "notebooks" / "zh" / "00_start_here.ipynb").read_text("utf-8"))
    assert f"约 {new}" in "".join(zh["cells"][0]["source"])


def test_readme_times_follow_the_english_readme(repo: Path) -> None:
    readme = repo / "README.md"
    text = readme.read_text("utf-8")
    first = re.search(r"\| about (\d+) s \|", text)  # the first notebook's time in the table
    new = int(first.group(1)) + 7
    readme.write_text(text.replace(first.group(0), f"| about {new} s |", 1), encoding="utf-8")
    assert set(kinds(repo)) == {"readme"}
    i18n.build(repo, only=["00"])
    assert f"| 约 {new} s |" in (repo / "README.zh-CN.md").read_text("utf-8")
    assert i18n.check(repo, only=["00"]) == []


def test_a_restamped_result_number_flows_into_the_chinese_cell(repo: Path) -> None:
    """make render rewrites a tagged number (0.7 s <!-- result: load_seconds -->): the translation takes the new
    number, neither stale nor fuzzy; a changed word next to it still makes the cell stale."""
    import polib

    en = repo / "notebooks" / "00_start_here.ipynb"
    summary = "07bce430"
    tag = "<!-- result: load_seconds -->"
    edit_notebook(en, summary, lambda s: re.sub(r"[\d.]+ s " + re.escape(tag), "9.4 s " + tag, s))
    assert "stale" not in kinds(repo)
    assert i18n.extract(repo, only=["00"]) == []  # neither fuzzy nor new
    i18n.build(repo, only=["00"])
    assert i18n.check(repo, only=["00"]) == []
    zh = json.loads((repo / "notebooks" / "zh" / "00_start_here.ipynb").read_text("utf-8"))
    text = next("".join(c["source"]) for c in zh["cells"] if c["id"] == summary)
    assert "9.4 s " + tag in text and any("\u4e00" <= ch <= "\u9fff" for ch in text)
    entry = next(e for e in polib.pofile(str(catalogue(repo))) if e.msgctxt == summary)
    assert "fuzzy" not in entry.flags

    edit_notebook(en, summary, lambda s: s.replace("loaded offline", "loaded online"))
    assert kinds(repo)["stale"] == {f"00_start_here cell {summary}"}


def test_the_result_pattern_is_the_runners() -> None:
    from tools.runner import RESULT

    assert i18n.RESULT.pattern == RESULT.pattern
