"""Tests for helpers.finetune: a resumed run equals an uninterrupted one, ensure_adapter rebuilds, the CLI."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file
from transformers import TrainerCallback

from helpers import finetune as ft


def tiny_cfg(tmp_path: Path, name: str, model: str, **kw) -> ft.FinetuneConfig:
    base = ft.FinetuneConfig(
        model=model,
        output_dir=str(tmp_path / name),
        max_steps=6,
        per_device_train_batch_size=4,
        max_train_examples=32,
        max_eval_examples=8,
        eval_steps=0,
        logging_steps=1,
        save_steps=3,
        learning_rate=5e-3,
        warmup_steps=1,
        lora_dropout=0.1,  # dropout makes the test sensitive to the restored RNG state
        disable_tqdm=True,
    )
    return dataclasses.replace(base, **kw)


class StopAt(TrainerCallback):
    """Simulate an interruption: stop training after ``step`` (the checkpoint at that step is saved)."""

    def __init__(self, step: int) -> None:
        self.step = step

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_training_stop = True
        return control


def adapter_weights(folder: str | Path) -> dict[str, torch.Tensor]:
    return load_file(str(Path(folder) / "adapter_model.safetensors"))


def test_resume_matches_uninterrupted_run(tmp_path: Path, tiny_qwen2_dir: str) -> None:
    full = ft.train(tiny_cfg(tmp_path, "full", tiny_qwen2_dir), verbose=False)
    cut = tiny_cfg(tmp_path, "cut", tiny_qwen2_dir)
    interrupted = ft.train(cut, callbacks=[StopAt(3)], verbose=False)
    assert interrupted["global_step"] == 3
    assert (cut.resolved_checkpoint_dir() / "checkpoint-3").is_dir()
    resumed = ft.train(dataclasses.replace(cut, resume_from_checkpoint="last"), verbose=False)
    assert resumed["global_step"] == full["global_step"] == 6

    a, b = adapter_weights(full["adapter_dir"]), adapter_weights(resumed["adapter_dir"])
    half = adapter_weights(cut.resolved_checkpoint_dir() / "checkpoint-3")
    assert a.keys() == b.keys() == half.keys()
    # the interrupted state really differs, so equality below is not trivial
    assert max((a[k] - half[k]).abs().max().item() for k in a) > 1e-4
    for key in a:
        torch.testing.assert_close(b[key], a[key], atol=1e-5, rtol=1e-4, msg=key)

    def losses(m):
        return {h["step"]: h["loss"] for h in m["log_history"] if "loss" in h and h["step"] > 3}

    assert losses(resumed).keys() == losses(full).keys() == {4, 5, 6}
    for step, loss in losses(full).items():
        assert losses(resumed)[step] == pytest.approx(loss, abs=1e-4)

    # one history file beside the adapter, the Trainer's own, holding the whole (resumed) run
    saved = json.loads((Path(resumed["adapter_dir"]) / "trainer_state.json").read_text())
    assert saved["global_step"] == 6 and saved["log_history"] == resumed["log_history"]
    assert sorted(
        p.name
        for p in Path(resumed["adapter_dir"]).glob("*.json")
        if "state" in p.name or "lora_lab" in p.name
    ) == ["trainer_state.json"]


def test_resume_last_without_checkpoints_says_how_to_fix(tmp_path: Path, tiny_qwen2_dir: str) -> None:
    cfg = tiny_cfg(tmp_path, "never_saved", tiny_qwen2_dir, resume_from_checkpoint="last")
    with pytest.raises(FileNotFoundError, match="holds no checkpoint-.*\n.*save_steps > 0"):
        ft.train(cfg, verbose=False)


def test_ensure_adapter_rebuilds_missing_or_incomplete(tmp_path: Path, capsys, tiny_qwen2_dir: str) -> None:
    path = tmp_path / "adapter"
    assert not ft.adapter_is_complete(path)
    out = ft.ensure_adapter(path, model=tiny_qwen2_dir)
    assert out == path and ft.adapter_is_complete(path)
    assert "missing: rebuilding" in capsys.readouterr().out
    stamp = (path / "adapter_model.safetensors").stat().st_mtime_ns

    ft.ensure_adapter(path, model=tiny_qwen2_dir)  # complete: untouched
    assert "rebuilding" not in capsys.readouterr().out
    assert (path / "adapter_model.safetensors").stat().st_mtime_ns == stamp

    (path / "adapter_model.safetensors").write_bytes(b"truncated")  # a broken download / killed save
    assert not ft.adapter_is_complete(path)
    ft.ensure_adapter(path, model=tiny_qwen2_dir)
    assert "incomplete: rebuilding" in capsys.readouterr().out
    assert ft.adapter_is_complete(path)


def test_cli_yaml_and_overrides(tmp_path: Path, tiny_llama_dir: str) -> None:
    yaml_file = tmp_path / "run.yaml"
    yaml_file.write_text(
        f"model: {tiny_llama_dir}\nmax_steps: 50\nlora_r: 4\noutput_dir: {tmp_path / 'cli'}\n"
    )
    cfg = ft.config_from_args(["--config", str(yaml_file), "--max_steps", "2", "--bf16", "false"])
    assert (cfg.model, cfg.max_steps, cfg.lora_r, cfg.bf16) == (tiny_llama_dir, 2, 4, False)
    # every default survives the parser (list-typed fields too)
    assert ft.config_from_args([]) == ft.FinetuneConfig()
    nulls = tmp_path / "nulls.yaml"
    nulls.write_text("max_train_examples: null\nmax_eval_examples: null\n")
    cfg = ft.config_from_args(["--config", str(nulls), "--target_modules", "q_proj,v_proj"])
    assert (cfg.max_train_examples, cfg.max_eval_examples) == (None, None)
    assert ft.lora_config(cfg).target_modules == {"q_proj", "v_proj"}
    assert ft.lora_config(ft.FinetuneConfig()).target_modules == "all-linear"
    with pytest.raises(ValueError, match=r"Unknown arguments .*max_stepz(.|\n)*valid keys"):
        bad = tmp_path / "bad.yaml"
        bad.write_text("max_stepz: 3\n")
        ft.config_from_args(["--config", str(bad)])
    metrics = ft.main(
        ["--config", str(yaml_file), "--max_steps", "2", "--max_train_examples", "8", "--eval_steps", "0"]
    )
    assert metrics["global_step"] == 2 and ft.adapter_is_complete(tmp_path / "cli")


def test_training_arguments_follow_config(monkeypatch: pytest.MonkeyPatch) -> None:
    from helpers import env

    cfg = ft.FinetuneConfig(bf16=None, train_sampling_strategy="group_by_length")
    assert ft.training_arguments(cfg).train_sampling_strategy == "group_by_length"
    for fast in (True, False):  # auto: bf16 exactly where it is fast, whichever machine runs the test
        monkeypatch.setattr(env, "bf16_supported", lambda *a, fast=fast, **k: fast)
        assert ft.training_arguments(cfg).bf16 is fast
        explicit = dataclasses.replace(cfg, bf16=not fast)  # an explicit value wins over the machine
        assert ft.training_arguments(explicit).bf16 is (not fast)


def test_importing_helpers_caps_the_cpu_kernel_caches() -> None:
    """bf16 training on a CPU kept a compiled kernel per batch shape (helpers/__init__.py): importing helpers caps both
    caches in a process that had neither variable; a value the user set stays."""
    import helpers
    from helpers.env import run_fresh_process

    names = helpers.KERNEL_CACHE_VARIABLES
    code = (  # a fresh process without the variables the test runner's own import of helpers set, plus extra ones
        "import json, os, sys; names = sys.argv[1].split(','); [os.environ.pop(n, None) for n in names]; "
        "os.environ.update(json.loads(sys.argv[2])); import helpers; print(json.dumps([os.environ.get(n) for n in names]))"
    )

    def child(extra: dict[str, str]) -> list[str | None]:
        return run_fresh_process(code, [",".join(names), json.dumps(extra)], what="import helpers")

    assert names == ("ONEDNN_PRIMITIVE_CACHE_CAPACITY", "LRU_CACHE_CAPACITY")
    assert child({}) == [helpers.KERNEL_CACHE_CAPACITY] * 2 == ["64", "64"]
    assert child({"LRU_CACHE_CAPACITY": "8"}) == ["64", "8"]


def test_run_fresh_process_returns_the_last_json_line_and_names_a_failure() -> None:
    from helpers.env import run_fresh_process

    code = (
        "import json, os, sys; print('noise'); "
        "print(json.dumps({'args': sys.argv[1:], 'mmap': os.environ.get('MALLOC_MMAP_THRESHOLD_')}))"
    )
    assert run_fresh_process(code, ["a", "b"], what="probe") == {"args": ["a", "b"], "mmap": None}
    assert run_fresh_process(code, [], what="probe", return_freed_memory=True)["mmap"] == "131072"
    with pytest.raises(RuntimeError, match=r"The probe subprocess failed \(exit 3\):\n.*boom"):
        run_fresh_process("import sys; sys.stderr.write('boom'); sys.exit(3)", [], what="probe")


def test_training_path_drops_and_reports_empty_answers(tmp_path: Path, tiny_qwen2_dir: str) -> None:
    """What reaches the trainer is what clean_records keeps: a whitespace-only answer passes load_records, so the
    training path itself must drop it, and say so."""
    import json

    from helpers import data
    from helpers.models import tiny_tokenizer

    src = data.load_splits("data/extraction")
    folder = tmp_path / "data"
    folder.mkdir()
    train = [dict(r) for r in src["train"][:6]]
    blank = json.loads(json.dumps(train[1]))
    blank["messages"][-1]["content"] = " \n\t "  # whitespace only: load_records accepts it
    train = [train[0], blank, train[2], train[2], *train[3:]]  # plus a duplicate
    for name, rows in (("train", train), ("validation", src["validation"][:3]), ("test", src["test"][:3])):
        (folder / f"{name}.jsonl").write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))
    assert len(data.load_records(folder / "train.jsonl")) == 7  # loading keeps it: cleaning must drop it
    cfg = tiny_cfg(tmp_path, "clean", tiny_qwen2_dir, data_dir=str(folder), max_train_examples=None)
    train_ds, _, report = ft.build_datasets(cfg, tiny_tokenizer())
    assert report["cleaning"]["train"] == {
        "total": 7,
        "kept": 5,
        "dropped": {"empty": 1, "duplicate": 1, "over_length": 0},
    }
    assert len(train_ds) == 5
    for row in train_ds:  # every example still has answer tokens to learn
        assert any(label != -100 for label in row["labels"])


def test_notebook_04_runs_the_scripts_recipe(tmp_path: Path) -> None:
    """Notebook 04 builds its TrainingArguments, LoraConfig and collator by hand (the lesson); helpers.finetune builds
    them from FinetuneConfig() (the script, make bench). The two must be the same recipe: compare the objects."""
    import ast

    from helpers import data, env
    from helpers.finetune import FinetuneConfig, lora_config, training_arguments

    nb = json.loads((env.ROOT / "notebooks" / "04_training.ipynb").read_text(encoding="utf-8"))
    cells = [c for c in nb["cells"] if c["cell_type"] == "code"]
    ns: dict = {}
    params = next(c for c in cells if "parameters" in c["metadata"].get("tags", []))
    exec("".join(params["source"]), ns)  # noqa: S102 - the notebook's own parameters cell

    def assigned(name: str):
        """Evaluate the notebook's `name = ...` (after its cell's imports and assignments) in the parameters' namespace."""
        for cell in cells:
            tree = ast.parse("".join(cell["source"]))
            for node in tree.body:
                if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == name for t in node.targets):
                    before = tree.body[: tree.body.index(node)]  # the cell's imports and assignments up to it
                    keep = [n for n in before if isinstance(n, ast.Import | ast.ImportFrom | ast.Assign)] + [
                        node
                    ]
                    exec(compile(ast.Module(body=keep, type_ignores=[]), "04_training", "exec"), ns)  # noqa: S102
                    return ns[name]
        raise AssertionError(f"notebook 04 assigns no {name!r}")

    setup = env.Setup(
        env.pick_device(), torch.float32, env.bf16_supported(), 0
    )  # what the setup cell decides
    ns.update(env=env, data=data, SETUP=setup, tokenizer=object())
    cfg = FinetuneConfig(max_eval_examples=ns["N_VAL"])
    nb_args, script_args = assigned("args"), training_arguments(cfg)
    fields = [
        "max_steps",
        "per_device_train_batch_size",
        "per_device_eval_batch_size",
        "gradient_accumulation_steps",
        "learning_rate",
        "lr_scheduler_type",
        "warmup_steps",
        "weight_decay",
        "max_grad_norm",
        "bf16",
        "fp16",
        "train_sampling_strategy",
        "eval_steps",
        "logging_steps",
        "seed",
        "eval_strategy",
        "prediction_loss_only",
    ]
    differ = {
        f: (getattr(nb_args, f), getattr(script_args, f))
        for f in fields
        if getattr(nb_args, f) != getattr(script_args, f)
    }
    assert not differ, f"notebook 04 vs training_arguments(FinetuneConfig()): {differ}"
    nb_lora, script_lora = assigned("lora_config"), lora_config(cfg)
    for f in ("r", "lora_alpha", "lora_dropout", "target_modules", "bias", "task_type"):
        assert getattr(nb_lora, f) == getattr(script_lora, f), (
            f,
            getattr(nb_lora, f),
            getattr(script_lora, f),
        )
    collator = assigned("collator")
    assert collator.only_learned_logits == cfg.only_learned_logits
    assert ns["N_VAL"] == FinetuneConfig().max_eval_examples


@pytest.mark.skipif(
    not Path("/proc/self/clear_refs").exists(), reason="peak RSS is reset through Linux /proc"
)
def test_reset_peak_rss_hands_freed_blocks_back_before_measuring() -> None:
    """Blocks freed before the reset but kept by the allocator must not count in the peak that follows (04's probe)."""
    import ctypes

    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.malloc_trim  # noqa: B018 (glibc only)
    except (OSError, AttributeError):
        pytest.skip("not glibc: no malloc_trim")
    libc.malloc.restype, libc.malloc.argtypes = ctypes.c_void_p, [ctypes.c_size_t]
    libc.free.argtypes = [ctypes.c_void_p]
    size, count = 64 * 1024, 4096  # 256 MB in blocks below glibc's mmap threshold: they live on the heap
    blocks = [libc.malloc(size) for _ in range(count)]
    for block in blocks:
        ctypes.memset(block, 1, size)  # touched: resident
    pin = libc.malloc(size)  # above them, so free() cannot shrink the heap from its top by itself
    try:
        for block in blocks:
            libc.free(block)
        cached = ft.rss_mb()
        ft.reset_peak_rss()
        assert ft.peak_rss_mb() < cached - 200, (cached, ft.peak_rss_mb())  # the 256 MB went back to the OS
    finally:
        libc.free(pin)
