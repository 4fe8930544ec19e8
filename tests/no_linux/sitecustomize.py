"""Imported at start-up by every Python whose PYTHONPATH holds this folder: hide what only Linux has.

macOS and Windows have no ``/proc``, Windows has no ``resource`` module and no ``os.killpg``. The course must run
without them (tests/test_platforms.py; the smoke runs of notebooks 02, 04 and 07). psutil keeps its own reads of
``/proc``: on macOS and Windows it has its own sources, which is what the course's portable path relies on.
"""

import builtins
import contextlib
import io
import os
import sys

with contextlib.suppress(ImportError):  # psutil's Linux backend needs resource: it takes its copy first
    import psutil  # noqa: F401
sys.modules["resource"] = None  # from here `import resource` raises ImportError, as on Windows
for _name in ("killpg", "getpgid"):
    if hasattr(os, _name):
        delattr(os, _name)

_open = io.open


def _from_psutil() -> bool:
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_globals.get("__name__", "").startswith("psutil"):
            return True
        frame = frame.f_back
    return False


def _open_without_proc(file, *args, **kwargs):
    if isinstance(file, str | os.PathLike) and os.fsdecode(file).startswith("/proc/") and not _from_psutil():
        raise FileNotFoundError(2, "No such file or directory (tests/no_linux: not Linux)", os.fspath(file))
    return _open(file, *args, **kwargs)


builtins.open = io.open = _open_without_proc
os.environ["LORA_LAB_NO_LINUX"] = "1"  # so a test can see the simulation was active in a child
