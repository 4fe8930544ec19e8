"""LoRA supervised fine-tuning as a tested script: FinetuneConfig, train(), ensure_adapter() and a CLI."""

from __future__ import annotations

import dataclasses
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from helpers import env
from helpers.adapters import adapter_is_complete  # notebooks 04-06 call it as finetune.adapter_is_complete
from helpers.memory import peak_rss_mb, release_freed_memory, reset_peak_rss, rss_mb  # noqa: F401 (04 and bench call them here)
from helpers.models import DEFAULT_MODEL, load_model


@dataclass
class FinetuneConfig:
    """Everything one LoRA SFT run needs; every field can be set from YAML or the command line.

    The defaults are the course's CPU recipe (notebook 04's default run on the embedded model).
    """

    model: str = DEFAULT_MODEL  # or a hub id, or a local folder written by save_pretrained()
    data_dir: str = "data/extraction"  # relative paths are tried from the cwd, then from the repo root
    output_dir: str | None = None  # where the adapter goes; default env.artifacts_dir() / "adapter"
    checkpoint_dir: str | None = None  # Trainer checkpoints; default <output_dir>-checkpoints
    max_steps: int = 300
    # passes of 2 examples: the activation memory of 2 (peak RSS well under 3 GB)
    per_device_train_batch_size: int = 2
    gradient_accumulation_steps: int = 2  # 2 passes per optimizer step: effective batch 4
    learning_rate: float = 2e-3
    lr_scheduler_type: str = "linear"
    warmup_steps: int = 5
    weight_decay: float = 0.0
    max_grad_norm: float = 1.0
    lora_r: int = 16
    lora_alpha: int = 32
    lora_dropout: float = 0.0  # > 0 also stores a dropped-out copy of every adapted layer's input
    # "all-linear", or module names (a YAML list, or q_proj,v_proj); a factory, as HfArgumentParser wants for a list
    target_modules: str | list[str] = dataclasses.field(default_factory=lambda: "all-linear")
    # the output head computes its 49,152-wide logits only where a label is learned (data.ChatCollator)
    only_learned_logits: bool = True
    max_length: int = 256
    max_train_examples: int | None = None  # None: the whole train split
    max_eval_examples: int | None = 32  # validation examples used for the validation loss
    per_device_eval_batch_size: int = 4  # a big evaluation batch would set the run's peak memory (its logits)
    eval_steps: int = 100  # 0 disables evaluation during training
    logging_steps: int = 5
    save_steps: int = 0  # 0: no intermediate checkpoints
    save_total_limit: int | None = 2
    train_sampling_strategy: str = "group_by_length"  # "random" | "group_by_length" | "sequential"
    seed: int = 0
    bf16: bool | None = None  # None: env.bf16_supported() decides (fast bf16 CPU or GPU)
    gradient_checkpointing: bool = False
    attn_implementation: str | None = None  # None: the model's default ("sdpa"); "eager", "flash_attention_2"
    load_in_4bit: bool = False  # QLoRA: NF4 base weights via bitsandbytes (CUDA only)
    resume_from_checkpoint: str | None = None  # a checkpoint folder, or "last" for the newest one
    disable_tqdm: bool = False

    def resolved_output_dir(self) -> Path:
        return Path(self.output_dir) if self.output_dir else env.artifacts_dir() / "adapter"

    def resolved_checkpoint_dir(self) -> Path:
        if self.checkpoint_dir:
            return Path(self.checkpoint_dir)
        out = self.resolved_output_dir()
        return out.with_name(out.name + "-checkpoints")

    def resolved_bf16(self) -> bool:
        return env.bf16_supported() if self.bf16 is None else bool(self.bf16)


def load_model_for_training(
    name: str, *, attn_implementation: str | None = None, load_in_4bit: bool = False
) -> tuple[Any, Any]:
    """Load ``(model, tokenizer)`` in train-ready form.

    Args:
        name: a model name for :func:`helpers.models.load_model` (a hub id or a local folder).
        attn_implementation: passed to ``from_pretrained`` when set.
        load_in_4bit: QLoRA loading (NF4, bf16 compute) with bitsandbytes; needs a CUDA GPU.

    Returns:
        ``(model, tokenizer)``: fp32 weights on CPU (bf16 on a bf16 GPU), KV cache off.
    """
    kwargs: dict[str, Any] = {}
    if attn_implementation:
        if attn_implementation.startswith("flash_attention") and not torch.cuda.is_available():
            raise RuntimeError(
                f"attn_implementation={attn_implementation!r} needs a CUDA GPU (and pip install flash-attn). "
                "Fix: use attn_implementation: sdpa (PyTorch's fused attention, runs everywhere) or null."
            )
        kwargs["attn_implementation"] = attn_implementation
    if load_in_4bit:
        if not torch.cuda.is_available():
            raise RuntimeError(
                "load_in_4bit=True (QLoRA) needs a CUDA GPU and bitsandbytes. Fix: set load_in_4bit: false "
                "on this machine, or run configs/train_qlora.yaml on a GPU."
            )
        from transformers import BitsAndBytesConfig

        kwargs["quantization_config"] = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type="nf4",
            bnb_4bit_use_double_quant=True,
            bnb_4bit_compute_dtype=torch.bfloat16,
        )
        kwargs["dtype"] = torch.bfloat16
        # one GPU per process: under torchrun/accelerate each rank loads onto its own GPU (LOCAL_RANK)
        kwargs["device_map"] = {"": int(os.environ.get("LOCAL_RANK", "0"))}
    model, tokenizer = load_model(name, **kwargs)
    if load_in_4bit:
        from peft import prepare_model_for_kbit_training

        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    model.config.use_cache = False  # the KV cache is useless in training and costs memory
    return model, tokenizer


def lora_config(cfg: FinetuneConfig, **overrides: Any):
    """The ``peft.LoraConfig`` for ``cfg`` (causal LM, no bias); ``overrides`` set any other ``LoraConfig`` field
    (``init_lora_weights="pissa"``, ``use_rslora=True``, ...) for experiments (``benchmarks/recipe.py``)."""
    from peft import LoraConfig

    names = [cfg.target_modules] if isinstance(cfg.target_modules, str) else list(cfg.target_modules)
    targets = [t.strip() for name in names for t in name.split(",") if t.strip()]
    if targets == ["all-linear"]:
        targets = "all-linear"  # peft's shorthand: every linear layer but the output head
    fields = {f.name for f in dataclasses.fields(LoraConfig)}
    unknown = sorted(set(overrides) - fields)
    if unknown:
        raise ValueError(f"Not LoraConfig fields: {unknown}.\nFix: use one of {sorted(fields)}.")
    return LoraConfig(
        **{
            "r": cfg.lora_r,
            "lora_alpha": cfg.lora_alpha,
            "lora_dropout": cfg.lora_dropout,
            "target_modules": targets,
            "bias": "none",
            "task_type": "CAUSAL_LM",
            **overrides,
        }
    )


def build_datasets(cfg: FinetuneConfig, tokenizer) -> tuple[Any, Any, dict[str, Any]]:
    """Clean and tokenize the train and validation splits; return ``(train, val, report)``.

    The records go through :func:`helpers.data.clean_records` first, as in notebook 01: white space is
    stripped, and empty (also whitespace-only) answers, duplicates and over-long records are dropped. The
    report counts every record dropped, by reason (``report["cleaning"]``), so nothing is lost silently.
    """
    from datasets import Dataset

    from helpers import data

    splits = data.load_splits(cfg.data_dir)
    train_raw = splits["train"][: cfg.max_train_examples] if cfg.max_train_examples else splits["train"]
    val_raw = splits["validation"][: cfg.max_eval_examples] if cfg.max_eval_examples else splits["validation"]
    train_records, train_clean = data.clean_records(train_raw, tokenizer=tokenizer, max_length=cfg.max_length)
    val_records, val_clean = data.clean_records(val_raw, tokenizer=tokenizer, max_length=cfg.max_length)
    train_feats, train_report = data.tokenize_records(train_records, tokenizer, cfg.max_length)
    val_feats, val_report = data.tokenize_records(val_records, tokenizer, cfg.max_length)
    if not train_feats:
        raise ValueError(
            f"No training example is left after cleaning (max_length={cfg.max_length}): {train_clean['dropped']}. "
            "Fix: check the data (empty answers?) or raise max_length."
        )
    train_ds = Dataset.from_list([dict(f) for f in train_feats])
    val_ds = Dataset.from_list([dict(f) for f in val_feats]) if val_feats else None
    cleaning = {
        name: {k: rep[k] for k in ("total", "kept", "dropped")}
        for name, rep in (("train", train_clean), ("validation", val_clean))
    }
    return train_ds, val_ds, {"train": train_report, "validation": val_report, "cleaning": cleaning}


def training_arguments(cfg: FinetuneConfig, **overrides: Any):
    """``transformers.TrainingArguments`` for ``cfg`` (checkpoints in ``cfg.resolved_checkpoint_dir()``)."""
    from transformers import TrainingArguments

    has_eval = cfg.eval_steps > 0
    kwargs: dict[str, Any] = dict(
        output_dir=str(cfg.resolved_checkpoint_dir()),
        max_steps=cfg.max_steps,
        per_device_train_batch_size=cfg.per_device_train_batch_size,
        per_device_eval_batch_size=cfg.per_device_eval_batch_size,
        gradient_accumulation_steps=cfg.gradient_accumulation_steps,
        learning_rate=cfg.learning_rate,
        lr_scheduler_type=cfg.lr_scheduler_type,
        warmup_steps=cfg.warmup_steps,
        weight_decay=cfg.weight_decay,
        max_grad_norm=cfg.max_grad_norm,
        bf16=cfg.resolved_bf16(),
        # a GPU without native bf16 (T4): fp16 mixed precision, unless bf16 was set by hand (then fp32)
        fp16=torch.cuda.is_available() and cfg.bf16 is None and not cfg.resolved_bf16(),
        use_cpu=not torch.cuda.is_available(),
        activation_checkpointing=cfg.gradient_checkpointing,  # the 5.x name of gradient_checkpointing
        ddp_find_unused_parameters=False,  # under DDP: LoRA uses every trainable parameter, skip the search
        train_sampling_strategy=cfg.train_sampling_strategy,
        logging_steps=cfg.logging_steps,
        logging_first_step=True,
        eval_strategy="steps" if has_eval else "no",
        prediction_loss_only=True,  # keep only the loss: gathering (batch, seq, vocab) logits is slow and huge
        eval_steps=cfg.eval_steps if has_eval else None,
        save_strategy="steps" if cfg.save_steps > 0 else "no",
        save_steps=cfg.save_steps if cfg.save_steps > 0 else 500,
        save_total_limit=cfg.save_total_limit,
        seed=cfg.seed,
        data_seed=cfg.seed,
        report_to="none",
        disable_tqdm=cfg.disable_tqdm,
        dataloader_num_workers=0,
        remove_unused_columns=False,
    )
    kwargs.update(overrides)
    return TrainingArguments(**kwargs)


def _measure_steps_child(spec_path: str) -> None:
    """The fresh process of :func:`measure_train_steps`: load, wrap, measure the baseline, train, print JSON."""
    spec = torch.load(spec_path, weights_only=False)
    torch.manual_seed(spec["seed"])
    model, _ = load_model_for_training(spec["model"])
    if spec["method"] == "lora":
        from peft import get_peft_model

        model = get_peft_model(model, spec["lora_config"])
    device = next(model.parameters()).device
    batch = {k: v.to(device) for k, v in spec["batch"].items()}
    params = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(params, lr=spec["learning_rate"])
    model.train()
    with torch.no_grad():  # read every weight once: memory-mapped weights become resident before the baseline
        for p in model.parameters():
            p.sum()
    cuda = device.type == "cuda"
    if cuda:
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
        baseline = torch.cuda.memory_allocated() / 2**20
    else:
        baseline = rss_mb()  # the loaded (and wrapped) model, before any step
        reset_peak_rss()
    step_seconds = []
    for _ in range(spec["steps"]):
        start = time.perf_counter()
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=spec["bf16"]):
            loss = model(**batch).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if cuda:
            torch.cuda.synchronize()
        step_seconds.append(time.perf_counter() - start)
    timed = step_seconds[1:] or step_seconds  # the first step also allocates AdamW's states and warms up
    peak = torch.cuda.max_memory_allocated() / 2**20 if cuda else peak_rss_mb()
    result = {
        "method": spec["method"],
        "trainable": sum(p.numel() for p in params),
        "steps": spec["steps"],
        "s_per_step": sum(timed) / len(timed),
        "step_seconds": step_seconds,
        "baseline_mb": baseline,
        "peak_mb": peak,
        "peak_extra_mb": peak - baseline,
        "memory": "cuda allocated" if cuda else "RSS",
        "loss": float(loss),
    }
    print(json.dumps(result))


def measure_train_steps(
    method: str,
    batch: dict[str, torch.Tensor],
    *,
    model: str = DEFAULT_MODEL,
    steps: int = 3,
    lora_config: Any = None,
    bf16: bool = False,
    learning_rate: float = 1e-5,
    seed: int = 0,
    return_freed_memory: bool = True,
) -> dict[str, Any]:
    """Train ``steps`` AdamW steps on one fixed ``batch`` in a FRESH Python process; report time and peak memory.

    Why a fresh process: in a process that trained before, the allocator keeps the memory that training freed
    and hands it out again, so a second measurement can show no growth at all. The child loads ``model``
    (wrapped with ``lora_config`` for ``method="lora"``; every weight trainable for ``"full"``), takes its
    resident memory as the baseline, resets the peak counter, trains, and reports the peak above that
    baseline: gradients, optimizer states and activations, not the weights. Like
    :func:`helpers.costs.measure_training_peak`, it makes glibc return freed blocks at once
    (``return_freed_memory``), so the peak is what training holds, not an allocator cache.
    On a CUDA GPU it reports ``torch.cuda.max_memory_allocated`` above the loaded model instead.
    ``s_per_step`` leaves out the first step when there are more (it also allocates AdamW's states).

    Args:
        method: ``"lora"`` or ``"full"``.
        batch: model inputs with ``labels`` (e.g. a ``ChatCollator`` batch), on any device.
        model: a name for :func:`load_model_for_training`.
        steps: optimizer steps (AdamW allocates its two moments at the first one).
        lora_config: the ``peft.LoraConfig`` for ``"lora"``.
        bf16: compute under bf16 autocast.
        learning_rate: AdamW's rate (the measurement does not depend on it).
        seed: seeds the child (LoRA's A init).
        return_freed_memory: pin glibc's mmap and trim thresholds in the child (Linux; no effect elsewhere).

    Returns:
        ``{"method", "trainable", "steps", "s_per_step", "step_seconds", "baseline_mb", "peak_mb",
        "peak_extra_mb", "memory", "loss"}`` (memory in MB; ``memory`` says which: "RSS" or "cuda allocated").
    """
    import tempfile

    if method not in {"lora", "full"}:
        raise ValueError(f"method={method!r}; use 'lora' or 'full'.")
    if method == "lora" and lora_config is None:
        raise ValueError("method='lora' needs lora_config= (a peft.LoraConfig).")
    if steps < 1:
        raise ValueError(f"steps={steps} must be >= 1.")
    with tempfile.TemporaryDirectory(prefix="lora-lab-measure-") as tmp:
        spec_path = str(Path(tmp) / "spec.pt")
        torch.save(
            {
                "method": method,
                "batch": {k: v.detach().cpu() for k, v in batch.items()},
                "model": model,
                "steps": steps,
                "lora_config": lora_config,
                "bf16": bool(bf16),
                "learning_rate": learning_rate,
                "seed": seed,
            },
            spec_path,
        )
        code = (
            "import sys; from helpers.finetune import _measure_steps_child; _measure_steps_child(sys.argv[1])"
        )
        return env.run_fresh_process(
            code, [spec_path], what="measuring", return_freed_memory=return_freed_memory
        )


def _last(history: list[dict[str, Any]], key: str) -> float | None:
    values = [h[key] for h in history if key in h]
    return float(values[-1]) if values else None


#: Set to a folder to make every process of the CLI (``main``) write ``rank<N>.json``: what it trained (DDP checks).
RANK_REPORT_ENV = "LORA_LAB_RANK_REPORT"


def adapter_fingerprint(model) -> str:
    """SHA-256 of a model's LoRA weights (names and values): equal only for identical adapters."""
    import hashlib

    digest = hashlib.sha256()
    named = sorted((n.removeprefix("module."), p) for n, p in model.named_parameters() if "lora_" in n)
    for name, param in named:
        digest.update(name.encode())
        digest.update(param.detach().to("cpu", torch.float32).contiguous().numpy().tobytes())
    return digest.hexdigest()


def _rank_report(folder: str):
    """A callback that writes this process's rank, world size, data shard and adapter fingerprint (DDP checks)."""
    from transformers import TrainerCallback

    class RankReport(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, train_dataloader=None, **kwargs):
            import torch.distributed as dist

            self.report = {
                "rank": args.process_index,
                "world_size": args.world_size,
                "backend": dist.get_backend() if dist.is_available() and dist.is_initialized() else None,
                "device": str(args.device),
                "n_train": len(train_dataloader.dataset) if train_dataloader is not None else None,
                "batches_per_epoch": len(train_dataloader) if train_dataloader is not None else None,
                "start_fingerprint": adapter_fingerprint(model),
            }

        def on_train_end(self, args, state, control, model=None, **kwargs):
            self.report.update(global_step=state.global_step, end_fingerprint=adapter_fingerprint(model))
            Path(folder).mkdir(parents=True, exist_ok=True)
            (Path(folder) / f"rank{args.process_index}.json").write_text(json.dumps(self.report, indent=2))

    return RankReport()


def train(
    cfg: FinetuneConfig | None = None,
    *,
    callbacks: list | None = None,
    verbose: bool = True,
    lora_overrides: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Run one LoRA SFT and save the adapter (safetensors) to ``cfg.resolved_output_dir()``.

    Args:
        cfg: the run's configuration; default :class:`FinetuneConfig()`.
        callbacks: extra ``transformers.TrainerCallback`` objects (live plots, early stops).
        verbose: print the setup line and the result summary.
        lora_overrides: other ``LoraConfig`` fields, passed to :func:`lora_config` (experiments).

    Returns:
        Metrics: ``train_seconds``, ``peak_rss_mb``, ``final_train_loss``, ``final_val_loss``,
        ``global_step``, ``trainable_params``, ``total_params``, ``bf16``, ``adapter_dir``,
        ``log_history`` (the Trainer's), ``n_train``, ``n_val``.
    """
    from peft import get_peft_model
    from transformers import Trainer, set_seed
    from transformers.trainer_utils import get_last_checkpoint

    from helpers.data import ChatCollator

    cfg = cfg or FinetuneConfig()
    set_seed(cfg.seed)
    model, tokenizer = load_model_for_training(
        cfg.model, attn_implementation=cfg.attn_implementation, load_in_4bit=cfg.load_in_4bit
    )
    train_ds, val_ds, report = build_datasets(cfg, tokenizer)
    model = get_peft_model(model, lora_config(cfg, **(lora_overrides or {})))
    if cfg.gradient_checkpointing:
        model.enable_input_require_grads()  # checkpointed blocks need a grad-requiring input
    trainable, total = model.get_nb_trainable_parameters()
    args = training_arguments(
        cfg, eval_strategy="steps" if cfg.eval_steps > 0 and val_ds is not None else "no"
    )
    if verbose:
        for name, rep in report["cleaning"].items():
            dropped = {k: v for k, v in rep["dropped"].items() if v}
            print(
                f"{name}: kept {rep['kept']} of {rep['total']} records"
                + (f", dropped {dropped}" if dropped else "")
            )
        print(
            f"LoRA r={cfg.lora_r} alpha={cfg.lora_alpha} on {cfg.target_modules}: {trainable:,} trainable of "
            f"{total:,} params | {len(train_ds)} train / {len(val_ds) if val_ds else 0} val examples | "
            f"compute {'bf16 autocast' if args.bf16 else 'fp16 autocast' if args.fp16 else 'fp32'} on {env.pick_device()}"
        )
    trainer = Trainer(
        model=model,
        args=args,
        train_dataset=train_ds,
        eval_dataset=val_ds,
        # several GPUs in one process (DataParallel) would split the kept positions' 1-D list across them: off there
        data_collator=ChatCollator(
            tokenizer, only_learned_logits=cfg.only_learned_logits and args.n_gpu <= 1
        ),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    resume = cfg.resume_from_checkpoint
    if resume == "last":
        folder = cfg.resolved_checkpoint_dir()
        resume = get_last_checkpoint(str(folder)) if folder.is_dir() else None
        if resume is None:
            raise FileNotFoundError(
                f"resume_from_checkpoint='last' but {cfg.resolved_checkpoint_dir()} holds no checkpoint-*.\n"
                "Fix: train once with save_steps > 0, or drop resume_from_checkpoint."
            )
    reset_peak_rss()  # the peak below is the training's (model already loaded), not the imports'
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=resume)
    seconds = time.perf_counter() - start
    history = trainer.state.log_history
    if val_ds is not None and not any(
        "eval_loss" in h and h.get("step") == trainer.state.global_step for h in history
    ):
        trainer.evaluate()  # always end with the validation loss of the final weights
        history = trainer.state.log_history
    out_dir = cfg.resolved_output_dir()
    trainer.save_model(str(out_dir))  # adapter_model.safetensors + adapter_config.json + tokenizer
    metrics: dict[str, Any] = {
        "train_seconds": round(seconds, 2),
        "peak_rss_mb": round(peak_rss_mb(), 1),
        "final_train_loss": _last(history, "loss"),
        "final_val_loss": _last(history, "eval_loss"),
        "global_step": trainer.state.global_step,
        "trainable_params": trainable,
        "total_params": total,
        "bf16": bool(args.bf16),
        "n_train": len(train_ds),
        "n_val": len(val_ds) if val_ds is not None else 0,
        "adapter_dir": str(out_dir),
        "data_report": report,
        "log_history": history,
    }
    if trainer.is_world_process_zero():
        # The run's one history file, beside the adapter (as notebook 04 saves it): notebook 05 plots its losses.
        trainer.state.save_to_json(str(out_dir / "trainer_state.json"))
    if verbose:
        print(
            f"{metrics['global_step']} steps in {seconds:.0f} s | train loss {metrics['final_train_loss']} | "
            f"val loss {metrics['final_val_loss']} | peak RSS {metrics['peak_rss_mb']:.0f} MB"
        )
    return metrics


def quick_config(*, model: str | None = None, output_dir: str | os.PathLike | None = None) -> FinetuneConfig:
    """The rebuild recipe of :func:`ensure_adapter`: a few steps in smoke mode, the default recipe otherwise."""
    cfg = FinetuneConfig(model=model or DEFAULT_MODEL, output_dir=str(output_dir) if output_dir else None)
    if env.smoke_default():
        cfg = dataclasses.replace(
            cfg, max_steps=4, max_train_examples=32, max_eval_examples=8, eval_steps=0, logging_steps=1
        )
    return cfg


def ensure_adapter(
    path: str | os.PathLike | None = None, *, model: str | None = None, quick: bool = True
) -> Path:
    """Return an adapter folder, training one first when it is missing or incomplete.

    Args:
        path: the adapter folder; default ``env.artifacts_dir() / "adapter"`` (what notebook 04 writes).
        model: base model for a rebuild; default the embedded model (tests pass a tiny model's folder).
        quick: rebuild with :func:`quick_config` (a few steps under SMOKE); ``False`` always uses the
            full default recipe.

    Returns:
        The adapter folder (holds ``adapter_model.safetensors`` and ``adapter_config.json``).
    """
    path = Path(path) if path else env.artifacts_dir() / "adapter"
    if adapter_is_complete(path):
        return path
    why = "incomplete" if path.exists() else "missing"
    cfg = (
        quick_config(model=model, output_dir=path)
        if quick
        else FinetuneConfig(model=model or DEFAULT_MODEL, output_dir=str(path))
    )
    print(f"The adapter at {_show(path)} is {why}: rebuilding it with a short run ({cfg.max_steps} steps)...")
    if path.exists():
        shutil.rmtree(path)
    train(cfg)
    print(f"Rebuilt the adapter at {_show(path)}.")
    return path


def _show(path: Path) -> str:
    """A path relative to the repo (or the artifacts folder) when possible, never an absolute machine path."""
    for base, label in ((env.ROOT, ""), (env.artifacts_dir(), "<artifacts>/")):
        try:
            return label + str(Path(path).resolve().relative_to(base.resolve()))
        except ValueError:
            continue
    return Path(path).name


# --- command line -------------------------------------------------------------------------------


def config_from_args(argv: list[str] | None = None) -> FinetuneConfig:
    """Build a :class:`FinetuneConfig` from ``--config file.yaml`` plus ``--field value`` overrides.

    TRL's parser (``transformers.HfArgumentParser`` with a ``--config`` YAML file) does the work: the YAML
    sets the defaults, the command line overrides them, and an unknown key in either is an error. A ``null``
    (None) is set in the YAML; ``--target_modules`` takes names (``q_proj v_proj`` or ``q_proj,v_proj``).
    """
    from trl import TrlParser

    try:
        (cfg,) = TrlParser(FinetuneConfig, prog="python -m helpers.finetune").parse_args_and_config(argv)
    except ValueError as err:  # an unknown key (a typo): list the valid ones
        valid = ", ".join(f.name for f in dataclasses.fields(FinetuneConfig))
        raise ValueError(f"{err}\nThe valid keys are FinetuneConfig's fields: {valid}.") from None
    return cfg


def main(argv: list[str] | None = None) -> dict[str, Any]:
    """CLI entry point: ``python -m helpers.finetune --config configs/x.yaml --max_steps 5``.

    Works under ``accelerate launch`` and ``torchrun`` (the Trainer picks up the distributed setup).
    """
    cfg = config_from_args(argv)
    folder = os.environ.get(RANK_REPORT_ENV)  # DDP checks (tests/test_distributed.py, notebook 07)
    metrics = train(cfg, callbacks=[_rank_report(folder)] if folder else None)
    if int(os.environ.get("RANK", "0")) == 0:
        print(
            json.dumps(
                {k: v for k, v in metrics.items() if k not in {"log_history", "data_report"}}, indent=2
            )
        )
    return metrics


if __name__ == "__main__":
    main()
