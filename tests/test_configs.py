"""Every file in configs/ parses, validates against accelerate's, LoraConfig's and TrainingArguments' schemas, and is
commented."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path
from unittest import mock

import pytest
import torch
import yaml

from helpers import train
from helpers.env import ROOT

CONFIGS = ROOT / "configs"
ACCELERATE = CONFIGS / "accelerate"

#: The accelerate configs the course ships and the distributed type each must declare.
EXPECTED_ACCELERATE = {
    "single_gpu.yaml": "NO",
    "multi_gpu.yaml": "MULTI_GPU",
    "deepspeed_zero2.yaml": "DEEPSPEED",
    "deepspeed_zero3.yaml": "DEEPSPEED",
    "fsdp.yaml": "FSDP",
    "cpu_ddp.yaml": "MULTI_GPU",  # the torchrun launcher; the ranks run on CPU (see the file)
}
TRAIN_CONFIGS = ["train_cpu.yaml", "train_gpu.yaml", "train_qlora.yaml"]
GPU_ACCELERATE = [n for n in EXPECTED_ACCELERATE if n != "cpu_ddp.yaml"]


def _launch_args(path: Path):
    """What ``accelerate launch --config_file path -m helpers.train`` resolves, without launching."""
    from accelerate.commands.launch import _validate_launch_command, launch_command_parser

    args = launch_command_parser().parse_args(["--config_file", str(path), "-m", "helpers.train"])
    args, defaults, _ = _validate_launch_command(args)
    args.main_process_port = 0  # 0 = any free port: never collide with a real run on 29500
    return args, defaults


def _launch_env(path: Path) -> dict[str, str]:
    """The environment ``accelerate launch`` would give the training processes for ``path``."""
    from accelerate.utils import DistributedType
    from accelerate.utils import launch as launch_utils

    args, defaults = _launch_args(path)
    with mock.patch.dict(os.environ, {}, clear=False):
        if defaults.distributed_type == DistributedType.DEEPSPEED:
            # launch_command() sets this before calling the DeepSpeed launcher
            args.deepspeed_fields_from_accelerate_config = ",".join(defaults.deepspeed_config)
            _, env = launch_utils.prepare_deepspeed_cmd_env(args)
        elif defaults.distributed_type in (DistributedType.MULTI_GPU, DistributedType.FSDP):
            env = launch_utils.prepare_multi_gpu_env(args)
        else:
            _, env = launch_utils.prepare_simple_launcher_cmd_env(args)
    return env


def test_the_expected_configs_exist() -> None:
    found = sorted(p.name for p in ACCELERATE.glob("*.yaml"))
    assert found == sorted(EXPECTED_ACCELERATE), f"configs/accelerate holds {found}"
    for name in TRAIN_CONFIGS:
        assert (CONFIGS / name).is_file(), f"configs/{name} is missing"


@pytest.mark.parametrize("name", sorted(EXPECTED_ACCELERATE))
def test_accelerate_config_loads_with_accelerates_own_class(name: str) -> None:
    from accelerate.commands.config.config_args import ClusterConfig, load_config_from_file

    config = load_config_from_file(str(ACCELERATE / name))  # raises on unknown top-level keys
    assert isinstance(config, ClusterConfig)
    assert config.distributed_type.value == EXPECTED_ACCELERATE[name]
    assert config.num_machines == 1 and config.machine_rank == 0
    if EXPECTED_ACCELERATE[name] == "NO":
        assert config.num_processes == 1
    else:
        assert config.num_processes >= 2, f"{name}: a distributed config needs at least 2 processes"


@pytest.mark.parametrize("name", sorted(EXPECTED_ACCELERATE))
def test_nested_keys_are_real_launch_arguments(name: str) -> None:
    """accelerate copies deepspeed_config / fsdp_config keys onto its launch arguments WITHOUT checking
    them, so a typo (``zero_stag: 3``) would be silently ignored. Check every key against the parser."""
    from accelerate.commands.launch import launch_command_parser

    dests = {a.dest for a in launch_command_parser()._actions}
    raw = yaml.safe_load((ACCELERATE / name).read_text())
    for section in ("deepspeed_config", "fsdp_config"):
        for key in raw.get(section) or {}:
            dest = key if section != "fsdp_config" or key.startswith("fsdp") else f"fsdp_{key}"
            assert dest in dests, f"{name}: {section}.{key} is not an `accelerate launch` argument"


@pytest.mark.parametrize("name", sorted(EXPECTED_ACCELERATE))
def test_launch_resolves_the_config_into_the_right_environment(name: str) -> None:
    env = _launch_env(ACCELERATE / name)
    raw = yaml.safe_load((ACCELERATE / name).read_text())
    assert env["ACCELERATE_MIXED_PRECISION"] == raw["mixed_precision"]
    if name.startswith("deepspeed"):
        stage = raw["deepspeed_config"]["zero_stage"]
        assert env["ACCELERATE_USE_DEEPSPEED"] == "true"
        assert env["ACCELERATE_DEEPSPEED_ZERO_STAGE"] == str(stage) == name[-6]
    if name == "deepspeed_zero3.yaml":
        # without it ZeRO-3 keeps the adapter sharded and the Trainer writes no usable adapter
        assert env["ACCELERATE_DEEPSPEED_ZERO3_SAVE_16BIT_MODEL"] == "true"
    if name == "fsdp.yaml":
        assert env["ACCELERATE_USE_FSDP"] == "true"
        assert env["FSDP_VERSION"] == "2"
        # with SHARDED_STATE_DICT, Trainer.save_model writes nothing under FSDP
        assert env["FSDP_STATE_DICT_TYPE"] == "FULL_STATE_DICT"


def test_fsdp_plugin_builds_from_the_config() -> None:
    from accelerate import FullyShardedDataParallelPlugin

    with mock.patch.dict(os.environ, _launch_env(ACCELERATE / "fsdp.yaml")):
        plugin = FullyShardedDataParallelPlugin()
    assert plugin.fsdp_version == 2
    assert plugin.reshard_after_forward is True
    assert "FULL_STATE_DICT" in str(plugin.state_dict_type)
    assert plugin.cpu_ram_efficient_loading is True


@pytest.mark.parametrize("name, stage", [("deepspeed_zero2.yaml", 2), ("deepspeed_zero3.yaml", 3)])
def test_deepspeed_plugin_builds_the_zero_config(name: str, stage: int) -> None:
    """accelerate's DeepSpeedPlugin turns the YAML into a DeepSpeed JSON config (deepspeed itself is
    only needed on the GPU box at launch time, so it is not installed here)."""
    from accelerate import DeepSpeedPlugin

    with mock.patch.dict(os.environ, _launch_env(ACCELERATE / name)):
        ds = DeepSpeedPlugin().deepspeed_config
    assert ds["zero_optimization"]["stage"] == stage
    assert ds["zero_optimization"]["offload_optimizer"]["device"] == "none"
    # batch size, accumulation and clipping come from the training config ("auto"), never twice
    for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "gradient_clipping"):
        assert ds[key] == "auto", f"{name}: {key} should be left to the Trainer"
    assert ds["zero_optimization"]["stage3_gather_16bit_weights_on_model_save"] is (stage == 3)


def test_gpu_configs_agree_with_the_training_precision() -> None:
    """DeepSpeed refuses a run whose bf16 differs between the accelerate and the training config."""
    train_bf16 = train.load_recipe(CONFIGS / "train_gpu.yaml")["training"]["bf16"]
    assert train_bf16 is True
    for name in GPU_ACCELERATE:
        raw = yaml.safe_load((ACCELERATE / name).read_text())
        assert raw["mixed_precision"] == "bf16", f"{name} must use bf16 like configs/train_gpu.yaml"
        assert raw["use_cpu"] is False
    cpu = yaml.safe_load((ACCELERATE / "cpu_ddp.yaml").read_text())
    assert cpu["use_cpu"] is True and cpu["mixed_precision"] == "no"


def _yaml_files() -> list[Path]:
    return sorted(ACCELERATE.glob("*.yaml")) + [CONFIGS / n for n in TRAIN_CONFIGS]


@pytest.mark.parametrize("path", _yaml_files(), ids=lambda p: str(p.relative_to(CONFIGS)))
def test_every_config_is_commented_for_learners(path: Path) -> None:
    lines = path.read_text().splitlines()
    header = []
    for line in lines:
        if not line.startswith("#"):
            break
        header.append(line)
    assert len(header) >= 4, f"{path.name}: open with a comment block saying what the file is for"
    text = "\n".join(header)
    rel = str(path.relative_to(ROOT))
    assert rel in text, f"{path.name}: its header must show a launch command that uses {rel}"
    assert "helpers.train" in text or "gpu_smoke" in text
    # every key carries a comment on its line or on the line above it
    for i, line in enumerate(lines):
        if re.match(r"^\s*[a-z_0-9]+:", line):
            above = lines[i - 1].strip() if i else ""
            assert "#" in line or above.startswith("#"), f"{path.name}: explain `{line.strip()}` in a comment"
    # every config path a header mentions must exist, so learners can copy the commands as they are
    for mentioned in re.findall(r"configs/[\w/]+\.yaml", text):
        assert (ROOT / mentioned).is_file(), f"{path.name} mentions {mentioned}, which does not exist"


@pytest.mark.parametrize("name", TRAIN_CONFIGS)
def test_training_config_builds_the_library_objects(name: str) -> None:
    """Each recipe is what it says: ``lora:`` makes a LoraConfig and ``training:`` TrainingArguments, unknown keys
    fail in the library's own constructors, and the model is one notebook 07 can plan offline."""
    from peft import LoraConfig

    from helpers.models import DEFAULT_MODEL, architecture

    recipe = train.load_recipe(CONFIGS / name)
    LoraConfig(**recipe["lora"])
    if (
        not recipe["training"].get("bf16") or torch.cuda.is_available()
    ):  # bf16 without a GPU is refused on purpose
        args = train.training_arguments(recipe)
        assert args.max_steps == recipe["training"]["max_steps"]
    if recipe["model"] != DEFAULT_MODEL:
        architecture(recipe["model"])


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown where CUDA is missing")
def test_gpu_smoke_stops_with_a_clear_message_without_cuda() -> None:
    proc = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gpu_smoke.py")], capture_output=True, text=True, timeout=120
    )
    assert proc.returncode == 2
    assert "no CUDA GPU is visible" in proc.stderr and "DDP" in proc.stderr


def test_the_qlora_recipe_offline_stops_before_training_and_names_the_fix(monkeypatch) -> None:
    """configs/train_qlora.yaml names a 7B hub model: offline, the run stops while loading it, with the fix."""
    from helpers.models import ModelNotAvailableError

    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(ModelNotAvailableError, match="Qwen/Qwen2.5-7B-Instruct") as err:
        train.train(train.load_recipe(CONFIGS / "train_qlora.yaml"))
    assert "Fix" in str(err.value)
