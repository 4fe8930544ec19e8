"""LoRA Lab helpers: the thin, tested glue behind the course notebooks."""

import logging

__version__ = "0.1.0"

# bitsandbytes' CPU backend logs a warning about its optional fast kernels each time peft imports it; QLoRA (07)
# runs without them, so the line only distracts. Errors still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
