"""LoRA Lab helpers: the thin, tested glue behind the course notebooks.

Importing it does two things and nothing else (no torch, no patches): it caps oneDNN's kernel caches for bf16 on a
CPU (below), and it quiets bitsandbytes' CPU-backend notice. `make render` makes its kernels' progress bars text
(`tools.runner`, `helpers.env.use_text_progress`).
"""

import logging
import os

__version__ = "0.1.0"

#: oneDNN, which runs PyTorch's bf16 matrix products on a CPU, compiles a kernel per matrix shape and caches it with
#: its buffers (two caches: oneDNN's primitives and ideep's, 1,024 entries each by default). Dynamic padding makes
#: nearly every batch a new shape, so under bf16 autocast the cached kernels filled a training run's memory step by
#: step (notebook 04 on a CPU with AVX512-BF16). 64 leaves room: a cap of 32 cost no speed there
#: (`python benchmarks/bench.py --levers` measures 1,024 against 64). Both caches read their variable at their first
#: bf16 product, so it is set when helpers is imported; a value you set yourself wins. fp32 products on a CPU (MKL)
#: and GPUs do not use these caches.
KERNEL_CACHE_CAPACITY = "64"
KERNEL_CACHE_VARIABLES = ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")
for _variable in KERNEL_CACHE_VARIABLES:
    os.environ.setdefault(_variable, KERNEL_CACHE_CAPACITY)

# bitsandbytes' CPU backend logs a warning about its optional fast kernels each time peft imports it; QLoRA (07)
# runs without them, so the line only distracts. Errors still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
