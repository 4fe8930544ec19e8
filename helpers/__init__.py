"""LoRA Lab helpers: the thin, tested glue behind the course notebooks."""

__version__ = "0.1.0"
