"""LoRA Lab helpers: the thin, tested glue behind the course notebooks."""

import logging
import os

__version__ = "0.1.0"

# bitsandbytes' CPU backend logs a warning about its optional fast kernels each time peft imports it; QLoRA (07)
# runs without them, so the line only distracts. Errors still show.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)

# A headless run (helpers.runner sets LORA_LAB_HEADLESS=1 and imports helpers at kernel start): text progress bars,
# which a saved notebook shows finished, instead of widget bars, which it shows frozen at 0 %.
if os.environ.get("LORA_LAB_HEADLESS", "0") == "1":
    from helpers.env import use_text_progress

    use_text_progress()
