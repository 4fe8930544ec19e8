"""Device, dtype and bf16 detection, seeding, version report, and the course's folders."""

from __future__ import annotations

import functools
import os
import platform
import shutil
import warnings
from dataclasses import dataclass
from pathlib import Path

import torch

#: The folder above the ``helpers`` package: a checkout's root, or ``site-packages`` when installed from a wheel.
ROOT = Path(__file__).resolve().parents[1]
#: True when ``helpers`` is imported from a checkout (``pip install -e .`` or the repo on ``sys.path``).
CHECKOUT = (ROOT / "pyproject.toml").is_file() and (ROOT / "notebooks").is_dir()
#: Set it to keep artifacts and runs somewhere else than the checkout's root or the working folder.
HOME_ENV = "LORA_LAB_HOME"


def course_root() -> Path:
    """Where the course's own files (``data/``, ``configs/``) are: the checkout, or the copy inside the package."""
    if CHECKOUT:
        return ROOT
    from importlib.resources import files

    return Path(str(files("helpers") / "course"))  # the wheel installs data/ and configs/ there


def course_path(path: str | os.PathLike) -> Path:
    """``path`` if it exists from the working folder (your own data), else the course's copy of it.

    ``course_path("data/extraction")`` is the course data set from a checkout and from an installed wheel alike
    (Colab, Kaggle, a notebook copied into an empty folder): the wheel carries ``data/`` and ``configs/``.
    """
    given = Path(path).expanduser()
    if given.exists() or given.is_absolute():
        return given
    return course_root() / given


def home() -> Path:
    """Where artifacts and runs go: ``$LORA_LAB_HOME``, else the checkout's root, else the working folder."""
    if os.environ.get(HOME_ENV):
        return Path(os.environ[HOME_ENV]).expanduser()
    return ROOT if CHECKOUT else Path.cwd()


DATA_DIR = course_root() / "data"


def artifacts_dir() -> Path:
    """Where notebooks hand artifacts (adapters, merged models) to each other: ``$LORA_LAB_ARTIFACTS`` or
    ``artifacts/`` under :func:`home`."""
    path = Path(os.environ.get("LORA_LAB_ARTIFACTS", home() / "artifacts")).expanduser()
    path.mkdir(parents=True, exist_ok=True)
    return path


def smoke_default() -> bool:
    """The default for a notebook's ``SMOKE`` parameter: on when ``LORA_LAB_SMOKE=1`` (tests set it)."""
    return os.environ.get("LORA_LAB_SMOKE", "0") == "1"


#: Set by ``tools.runner`` (``make run`` / ``make render``) for its kernels: a headless run whose stored outputs
#: are read without a kernel (GitHub, nbviewer). Progress bars print text, explorers add a static copy.
HEADLESS_ENV = "LORA_LAB_HEADLESS"


def headless() -> bool:
    """True in a headless run (``$LORA_LAB_HEADLESS=1``): outputs are stored for readers, not watched live."""
    return os.environ.get(HEADLESS_ENV, "0") == "1"


def use_text_progress() -> None:
    """Make ``tqdm.auto`` (helpers, transformers' Trainer, datasets, huggingface_hub) print text bars, not widgets.

    A widget bar stores no state in a saved notebook, so a reader sees it frozen at 0 %; a text bar ends as a
    finished line such as ``300/300 [16:43<00:00, 3.34s/it]``. Call it before those libraries are imported
    (``tools.runner`` imports ``helpers`` at kernel start, which calls it when :func:`headless`).
    """
    import tqdm.auto
    import tqdm.autonotebook
    import tqdm.std

    class TextTqdm(tqdm.std.tqdm):
        """tqdm's text bar, without transient bars (``leave=False``, such as the Trainer's evaluation bar): in
        text they would draw on a second line with cursor moves, which a stored output keeps as stale lines."""

        def __init__(self, *args, **kwargs):
            if kwargs.get("leave") is False:
                kwargs["disable"] = True
            super().__init__(*args, **kwargs)

    def trange(*args, **kwargs):
        return TextTqdm(range(*args), **kwargs)

    for module in (tqdm.auto, tqdm.autonotebook):
        module.tqdm, module.trange = TextTqdm, trange


def pick_device() -> str:
    """``"cuda"`` when a GPU is visible, else ``"cpu"``."""
    return "cuda" if torch.cuda.is_available() else "cpu"


@functools.cache
def _cpu_flags() -> frozenset[str]:
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def cpu_has_fast_bf16() -> bool:
    """True when this CPU has native bf16 matmul (AVX512-BF16 or AMX); without it bf16 is emulated and slow."""
    if _cpu_flags() & {"avx512_bf16", "amx_bf16"}:
        return True
    capability = torch.backends.cpu.get_cpu_capability().upper()
    return "AMX" in capability or "BF16" in capability


def bf16_supported(device: str | torch.device | None = None) -> bool:
    """Whether bf16 is fast on ``device`` (a bf16 GPU, or a CPU with native bf16): the one dtype decision.

    Training computes in bf16 (autocast) exactly where this is True, fp32 elsewhere; weights load in bf16 only on
    a bf16 GPU (on a CPU, fp32 weights under bf16 autocast keep the fp32 master copy).
    """
    device = torch.device(device or pick_device())
    if device.type == "cuda":
        # native from Ampere (compute capability 8.0: A100, A10G, L4, RTX 30xx/40xx); torch.cuda.is_bf16_supported()
        # also says True on a T4 (7.5), where bf16 is emulated and slow: that GPU trains in fp16 (Setup.fp16)
        return torch.cuda.get_device_capability(device) >= (8, 0)
    return cpu_has_fast_bf16()


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and torch (and CUDA when present) with ``transformers.set_seed``, as the Trainer does."""
    import transformers

    transformers.set_seed(seed)


@dataclass(frozen=True)
class Setup:
    device: str
    autocast_dtype: torch.dtype
    bf16: bool
    seed: int

    @property
    def fp16(self) -> bool:
        """fp16 mixed precision: a GPU without native bf16 (a T4, Colab's free GPU). CPUs have no fast fp16."""
        return self.device == "cuda" and not self.bf16

    @property
    def dtype_name(self) -> str:
        return str(self.autocast_dtype).replace("torch.", "")


def versions() -> dict[str, str]:
    """Versions of the libraries the course depends on."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for name in ["torch", "transformers", "peft", "trl", "datasets", "accelerate"]:
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "not installed"
    return out


def enter_notebooks_folder() -> None:
    """Run a translated notebook (``notebooks/zh/``) from ``notebooks/``, the working folder of its English twin.

    The notebooks' relative paths (``DATA_DIR = "../data/extraction"``) are written for ``notebooks/``, and the
    Chinese edition's code cells are byte-identical copies of the English ones; so the setup cell, which every
    notebook runs right after its parameters cell, moves the kernel up one folder. Anywhere else: no change.
    """
    here, notebooks = Path.cwd().resolve(), (ROOT / "notebooks").resolve()
    if here.parent == notebooks:
        os.chdir(notebooks)


#: Library notices a learner cannot act on, hidden by :func:`setup` (message pattern, category). Each names a
#: file in site-packages, so it would also print a machine path into a stored output.
QUIET_NOTICES = (
    # peft reads a transformers property deprecated in 5.x; TRL's configs trigger 5.x renames
    (".*is_gradient_checkpointing.*", FutureWarning),
    (".*will be removed in v6.*", FutureWarning),
    # the first tutorial's TrainingArguments (notebook 04) ask for pinned memory, which a CPU has none of
    (".*pin_memory.*", UserWarning),
    # peft, merging an adapter into NF4 weights, warns that it rounds: notebook 07 measures by how much
    ("Merge lora module to 4-bit linear", UserWarning),
)


def quiet_library_notices() -> None:
    """Hide :data:`QUIET_NOTICES` (and only them) for the rest of the session."""
    for message, category in QUIET_NOTICES:
        warnings.filterwarnings("ignore", message=message, category=category)


def setup(seed: int = 0, *, verbose: bool = True) -> Setup:
    """The notebooks' setup cell: print versions, seed everything, pick device and compute dtype."""
    enter_notebooks_folder()
    set_seed(seed)
    quiet_library_notices()
    device = pick_device()
    bf16 = bf16_supported(device)
    info = Setup(
        device=device, autocast_dtype=torch.bfloat16 if bf16 else torch.float32, bf16=bf16, seed=seed
    )
    if verbose:
        print("  ".join(f"{k} {v}" for k, v in versions().items()))
        where = torch.cuda.get_device_name(0) if device == "cuda" else f"CPU, {os.cpu_count()} cores"
        print(f"device {device} ({where}) | compute dtype {info.dtype_name} | seed {seed}")
    return info


def machine_report() -> dict[str, object]:
    """What the environment check in notebook 00 shows: CPU/GPU, bf16, memory and disk."""
    import psutil

    vm = psutil.virtual_memory()
    disk = shutil.disk_usage(home())
    report: dict[str, object] = {
        "os": f"{platform.system()} {platform.release()}",
        "cpu_cores": os.cpu_count(),
        "cpu_capability": torch.backends.cpu.get_cpu_capability(),
        "cpu_fast_bf16": cpu_has_fast_bf16(),
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "ram_total_gb": round(vm.total / 2**30, 1),
        "ram_free_gb": round(vm.available / 2**30, 1),
        "disk_free_gb": round(disk.free / 2**30, 1),
    }
    if torch.cuda.is_available():
        report["gpu_memory_gb"] = round(torch.cuda.get_device_properties(0).total_memory / 2**30, 1)
        report["gpu_bf16"] = bf16_supported("cuda")
    return report
