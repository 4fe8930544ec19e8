"""helpers.lora: the hand-written LoRA and DoRA equal peft's (init, forward, merge, zero-B, rsLoRA, training, counts)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import pytest
import torch
from peft import LoraConfig, get_peft_model, get_peft_model_state_dict, set_peft_model_state_dict
from torch import nn

from helpers import lora, models
from helpers.env import ROOT
from tests.cells import cell_defining

QV = ["q_proj", "v_proj"]
TOL = 1e-5


# --- test-only views of the hand-written layers (peft has its own for its models) ---


def merge_lora(model: nn.Module) -> nn.Module:
    """Merge every hand-written layer in ``model`` (``LoRALinear.merge``); returns ``model``."""
    for _, layer in lora.lora_layers(model):
        layer.merge()
    return model


def unmerge_lora(model: nn.Module) -> nn.Module:
    """Undo :func:`merge_lora`; returns ``model``."""
    for _, layer in lora.lora_layers(model):
        layer.unmerge()
    return model


def count_trainable(model: nn.Module) -> tuple[int, int]:
    """Return ``(trainable, total)`` parameter counts, each shared tensor counted once."""
    seen: dict[int, tuple[int, bool]] = {}
    for p in model.parameters():
        seen[id(p)] = (p.numel(), p.requires_grad)
    return sum(n for n, g in seen.values() if g), sum(n for n, _ in seen.values())


def peft_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """The LoRA weights of ``model`` under the keys peft saves (``base_model.model.<path>.lora_A.weight``).

    DoRA layers add their magnitude under peft's ``base_model.model.<path>.lora_magnitude_vector``.

    Load them into a peft model with ``peft.set_peft_model_state_dict(peft_model, sd)``, or save them
    with safetensors next to a matching ``LoraConfig`` to get a peft adapter folder.
    """
    out = {}
    for path, layer in lora.lora_layers(model):
        out[f"base_model.model.{path}.lora_A.weight"] = layer.lora_A.weight.detach().clone()
        out[f"base_model.model.{path}.lora_B.weight"] = layer.lora_B.weight.detach().clone()
        if isinstance(layer, lora.DoRALinear):
            out[f"base_model.model.{path}.lora_magnitude_vector"] = layer.magnitude.detach().clone()
    return out


@pytest.fixture(scope="module")
def tiny():
    model, tok = models.tiny_model("qwen2")
    return model, tok


@pytest.fixture(scope="module")
def batch(tiny):
    _, tok = tiny
    texts = ["LoRA adds a low-rank update.", "W + (alpha/r) B A, with B at zero."]
    return tok(texts, return_tensors="pt", padding=True)


def _randomize_b(model: nn.Module, seed: int = 1) -> None:
    """Give every B a nonzero value, so that the update is visible (at init B is zero)."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, layer in lora.lora_layers(model):
            layer.lora_B.weight.copy_(torch.randn(layer.lora_B.weight.shape, generator=g) * 0.05)


def _pair(base: nn.Module, targets, r=4, alpha=8, dropout=0.0, use_rslora=False, randomize=True):
    """A hand-LoRA copy and a peft copy of ``base`` holding the same A and B."""
    hand = lora.apply_lora(
        copy.deepcopy(base), targets, r=r, alpha=alpha, dropout=dropout, use_rslora=use_rslora
    )
    if randomize:
        _randomize_b(hand)
    cfg = LoraConfig(
        r=r, lora_alpha=alpha, target_modules=targets, lora_dropout=dropout, use_rslora=use_rslora
    )
    peft_model = get_peft_model(copy.deepcopy(base), cfg)
    result = set_peft_model_state_dict(peft_model, peft_state_dict(hand))
    assert not result.unexpected_keys
    return hand, peft_model


def _logits(model, batch) -> torch.Tensor:
    with torch.no_grad():
        return model(**batch).logits


# --- the layer ------------------------------------------------------------------------------


def test_init_matches_peft_scheme():
    torch.manual_seed(0)
    layer = lora.LoRALinear(nn.Linear(64, 32), r=8, alpha=16)
    bound = 1 / math.sqrt(64)  # kaiming_uniform_(a=sqrt(5)) on fan_in=64
    assert layer.lora_A.weight.shape == (8, 64) and layer.lora_B.weight.shape == (32, 8)
    assert layer.lora_A.weight.abs().max() <= bound
    assert layer.lora_A.weight.abs().max() > 0.9 * bound  # uniform over the full range, not a narrower one
    assert torch.count_nonzero(layer.lora_B.weight) == 0
    assert layer.scaling == 2.0
    assert not layer.base.weight.requires_grad and layer.lora_A.weight.requires_grad


def test_same_seed_gives_the_same_a_as_peft(tiny):
    base, _ = tiny
    torch.manual_seed(123)
    hand = lora.apply_lora(copy.deepcopy(base), "all-linear", r=4, alpha=8)
    torch.manual_seed(123)
    peft_model = get_peft_model(
        copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")
    )
    ours, theirs = peft_state_dict(hand), get_peft_model_state_dict(peft_model)
    assert sorted(ours) == sorted(theirs)
    for key in ours:
        assert torch.equal(ours[key], theirs[key]), key


def test_zero_b_is_exactly_the_base_model(tiny, batch):
    base, _ = tiny
    hand = lora.apply_lora(copy.deepcopy(base), "all-linear", r=8, alpha=16)
    assert torch.equal(_logits(hand, batch), _logits(base, batch))


@pytest.mark.parametrize("targets", [QV, "all-linear"])
def test_forward_matches_peft_tiny(tiny, batch, targets):
    base, _ = tiny
    hand, peft_model = _pair(base, targets)
    out_hand, out_peft, out_base = _logits(hand, batch), _logits(peft_model, batch), _logits(base, batch)
    assert (out_hand - out_base).abs().max() > 1e-3  # the update really changes the output
    assert (out_hand - out_peft).abs().max() < TOL


def test_delta_weight_matches_peft(tiny):
    base, _ = tiny
    hand, peft_model = _pair(base, QV, r=4, alpha=32)
    ours = hand.get_submodule("model.layers.1.self_attn.v_proj").delta_weight()
    theirs = peft_model.base_model.model.get_submodule("model.layers.1.self_attn.v_proj").get_delta_weight(
        "default"
    )
    assert ours.shape == theirs.shape
    assert (ours - theirs).abs().max() < 1e-7


def test_merge_equals_unmerged_and_unmerge_restores(tiny, batch):
    base, _ = tiny
    hand, _ = _pair(base, "all-linear")
    before = _logits(hand, batch)
    w0 = hand.get_submodule("model.layers.0.mlp.down_proj").base.weight.clone()
    merge_lora(hand)
    assert (_logits(hand, batch) - before).abs().max() < TOL
    assert not torch.allclose(hand.get_submodule("model.layers.0.mlp.down_proj").base.weight, w0)
    with pytest.raises(RuntimeError, match="already merged"):
        merge_lora(hand)
    unmerge_lora(hand)
    assert (hand.get_submodule("model.layers.0.mlp.down_proj").base.weight - w0).abs().max() < 1e-6
    assert (_logits(hand, batch) - before).abs().max() < TOL


def test_merge_matches_peft_merge_and_unload(tiny, batch):
    base, _ = tiny
    hand, peft_model = _pair(base, QV)
    merge_lora(hand)
    merged = peft_model.merge_and_unload()
    assert (_logits(hand, batch) - _logits(merged, batch)).abs().max() < TOL


@pytest.mark.parametrize("r", [1, 4, 16])
def test_rslora_scaling_matches_peft(tiny, batch, r):
    base, _ = tiny
    hand, peft_model = _pair(base, QV, r=r, alpha=16, use_rslora=True)
    ours = hand.get_submodule("model.layers.0.self_attn.q_proj").scaling
    theirs = peft_model.base_model.model.get_submodule("model.layers.0.self_attn.q_proj").scaling["default"]
    assert ours == theirs == 16 / math.sqrt(r)
    assert (_logits(hand, batch) - _logits(peft_model, batch)).abs().max() < TOL
    plain = lora.LoRALinear(nn.Linear(8, 8), r=r, alpha=16)
    assert plain.scaling == 16 / r


def _train(model, batches, steps: int, lr: float = 1e-2) -> list[float]:
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=lr, weight_decay=0.0)
    model.train()
    losses = []
    for step in range(steps):
        b = batches[step % len(batches)]
        loss = model(**b, labels=b["input_ids"]).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(loss.item())
    return losses


def test_training_losses_coincide_with_peft(tiny):
    base, tok = tiny
    texts = [["The rank r limits the update.", "Alpha scales it."], ["B starts at zero.", "A is random."]]
    batches = [tok(t, return_tensors="pt", padding=True) for t in texts]
    torch.manual_seed(0)
    hand = lora.apply_lora(copy.deepcopy(base), "all-linear", r=4, alpha=8)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear")
    )
    ours, theirs = _train(hand, batches, 6), _train(peft_model, batches, 6)
    assert ours[-1] < ours[0] - 0.05  # it really learns
    assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-5
    final = peft_state_dict(hand)
    for key, value in get_peft_model_state_dict(peft_model).items():
        assert (final[key] - value).abs().max() < 1e-5, key


# --- DoRA -----------------------------------------------------------------------------------


def _dora_pair(base: nn.Module, targets, r=4, alpha=8, dropout=0.0, use_rslora=False):
    """A hand-DoRA copy and a peft ``use_dora=True`` copy of ``base`` holding the same A, B and magnitude.

    B is made nonzero and the magnitude is moved away from ``||W||``, as after some training.
    """
    hand = lora.apply_lora(
        copy.deepcopy(base), targets, r=r, alpha=alpha, dropout=dropout, use_rslora=use_rslora, use_dora=True
    )
    _randomize_b(hand)
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for _, layer in lora.lora_layers(hand):
            layer.magnitude.mul_(1 + 0.1 * torch.randn(layer.magnitude.shape, generator=g))
    cfg = LoraConfig(
        r=r,
        lora_alpha=alpha,
        target_modules=targets,
        lora_dropout=dropout,
        use_rslora=use_rslora,
        use_dora=True,
    )
    peft_model = get_peft_model(copy.deepcopy(base), cfg)
    result = set_peft_model_state_dict(peft_model, peft_state_dict(hand))
    assert not result.unexpected_keys
    assert not [k for k in result.missing_keys if "lora_" in k]
    return hand, peft_model


def test_dora_init_matches_peft_and_starts_as_the_base(tiny, batch):
    base, _ = tiny
    torch.manual_seed(3)
    hand = lora.apply_lora(copy.deepcopy(base), "all-linear", r=4, alpha=8, use_dora=True)
    torch.manual_seed(3)
    peft_model = get_peft_model(
        copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", use_dora=True)
    )
    ours, theirs = peft_state_dict(hand), get_peft_model_state_dict(peft_model)
    assert sorted(ours) == sorted(theirs)
    assert any(k.endswith("lora_magnitude_vector") for k in ours)
    for key in ours:  # same A from the same seed, B zero, magnitude = ||W|| per output feature
        assert torch.equal(ours[key], theirs[key]), key
    layer = hand.get_submodule("model.layers.0.self_attn.q_proj")
    assert isinstance(layer, lora.DoRALinear) and layer.magnitude.shape == (layer.out_features,)
    assert torch.equal(layer.magnitude, torch.linalg.norm(layer.base.weight, dim=1))
    assert torch.equal(_logits(hand, batch), _logits(base, batch))  # m / ||W|| is exactly 1 at init


@pytest.mark.parametrize(("targets", "use_rslora"), [(QV, False), ("all-linear", True)])
def test_dora_forward_and_gradients_match_peft(tiny, batch, targets, use_rslora):
    """Same logits and the same gradients for A, B and m: the gradients would differ if the norm were not detached."""
    base, _ = tiny
    hand, peft_model = _dora_pair(base, targets, use_rslora=use_rslora)
    out_hand, out_peft = _logits(hand, batch), _logits(peft_model, batch)
    assert (out_hand - _logits(base, batch)).abs().max() > 1e-3
    assert (out_hand - out_peft).abs().max() < TOL
    losses = []
    for model in (hand, peft_model):
        loss = model(**batch, labels=batch["input_ids"]).loss
        loss.backward()
        losses.append(loss.item())
    assert abs(losses[0] - losses[1]) < TOL
    for path, layer in lora.lora_layers(hand):
        theirs = peft_model.base_model.model.get_submodule(path)
        pairs = [
            (layer.lora_A.weight, theirs.lora_A["default"].weight),
            (layer.lora_B.weight, theirs.lora_B["default"].weight),
            (layer.magnitude, theirs.lora_magnitude_vector["default"].weight),
        ]
        for ours, ref in pairs:
            assert ours.grad is not None and (ours.grad - ref.grad).abs().max() < 1e-6, path
        assert layer.magnitude.grad.abs().max() > 0  # m is trained


def test_dora_norm_is_detached():
    layer = lora.DoRALinear(nn.Linear(12, 10), r=3, alpha=6)
    with torch.no_grad():
        layer.lora_B.weight.normal_()
    assert not layer.weight_norm().requires_grad
    x = torch.randn(4, 12)
    layer(x).sum().backward()
    # d/dB of (m/n) * B A x with n held constant: (m/n) * s * (1ᵀ) (A x)ᵀ summed over the batch
    scale = (layer.magnitude / layer.weight_norm()).detach()
    expected = layer.scaling * scale[:, None] * (x @ layer.lora_A.weight.T).sum(0)[None, :]
    assert (layer.lora_B.weight.grad - expected).abs().max() < 1e-5


@pytest.mark.parametrize("kind", ["lora", "dora"])
def test_dropout_acts_on_the_input_of_a_like_peft(tiny, batch, kind):
    """With dropout on and the same RNG state, the training-mode outputs agree: same mask, same place (for DoRA the
    dropped x goes through W too); in eval mode dropout is off and the outputs agree again."""
    base, _ = tiny
    hand, peft_model = (_pair if kind == "lora" else _dora_pair)(base, QV, dropout=0.3)
    hand.train(), peft_model.train()
    torch.manual_seed(7)
    out_hand = hand(**batch).logits
    torch.manual_seed(7)
    out_peft = peft_model(**batch).logits
    assert (out_hand - out_peft).abs().max() < TOL
    hand.eval(), peft_model.eval()
    assert torch.equal(_logits(hand, batch), _logits(hand, batch))  # deterministic
    assert (_logits(hand, batch) - _logits(peft_model, batch)).abs().max() < TOL


def test_dora_merge_equals_unmerged_and_peft(tiny, batch):
    base, _ = tiny
    hand, peft_model = _dora_pair(base, "all-linear")
    before = _logits(hand, batch)
    layer = hand.get_submodule("model.layers.1.self_attn.q_proj")  # has a bias in Qwen2
    w0, b0 = layer.base.weight.detach().clone(), layer.base.bias.detach().clone()
    expected = layer.merged_weight().detach()
    assert (torch.linalg.norm(expected, dim=1) - layer.magnitude).abs().max() < 1e-5  # each row has length m
    merge_lora(hand)
    assert torch.equal(layer.base.weight, expected) and torch.equal(layer.base.bias, b0)
    merged = _logits(hand, batch)
    assert (merged - before).abs().max() < TOL
    assert (merged - _logits(peft_model.merge_and_unload(), batch)).abs().max() < TOL
    with pytest.raises(RuntimeError, match="already merged"):
        merge_lora(hand)
    unmerge_lora(hand)
    assert (layer.base.weight - w0).abs().max() < 1e-6
    assert (_logits(hand, batch) - before).abs().max() < TOL
    with pytest.raises(RuntimeError, match="not merged"):
        layer.unmerge()


def test_dora_training_losses_coincide_with_peft(tiny):
    base, tok = tiny
    texts = [["The magnitude is m.", "The direction is V / |V|."], ["B starts at zero.", "m starts at |W|."]]
    batches = [tok(t, return_tensors="pt", padding=True) for t in texts]
    torch.manual_seed(0)
    hand = lora.apply_lora(copy.deepcopy(base), QV, r=4, alpha=8, use_dora=True)
    torch.manual_seed(0)
    peft_model = get_peft_model(
        copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules=QV, use_dora=True)
    )
    ours, theirs = _train(hand, batches, 4), _train(peft_model, batches, 4)
    assert ours[-1] < ours[0]
    assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-5
    final = peft_state_dict(hand)
    for key, value in get_peft_model_state_dict(peft_model).items():
        assert (final[key] - value).abs().max() < 1e-5, key


def test_dora_refuses_a_quantized_base():
    layer = nn.Linear(4, 4)
    layer.weight = nn.Parameter(torch.zeros(4, 4, dtype=torch.int8), requires_grad=False)
    with pytest.raises(TypeError, match="floating-point"):
        lora.DoRALinear(layer, r=2, alpha=4)


# --- parameter counts -----------------------------------------------------------------------


@pytest.mark.parametrize("use_dora", [False, True], ids=["lora", "dora"])
@pytest.mark.parametrize("arch", ["qwen2", "llama"])
@pytest.mark.parametrize(("targets", "r"), [(QV, 8), ("all-linear", 4), (["o_proj", "down_proj"], 16)])
def test_closed_form_count_equals_counted_and_peft(arch, targets, r, use_dora):
    base, _ = models.tiny_model(arch)
    formula = lora.lora_parameter_count(base.config, targets, r, use_dora=use_dora)
    hand = lora.apply_lora(copy.deepcopy(base), targets, r=r, alpha=2 * r, use_dora=use_dora)
    trainable, total = count_trainable(hand)
    peft_model = get_peft_model(
        copy.deepcopy(base), LoraConfig(r=r, lora_alpha=2 * r, target_modules=targets, use_dora=use_dora)
    )
    peft_trainable, peft_total = peft_model.get_nb_trainable_parameters()
    assert formula == trainable == peft_trainable
    assert total == peft_total == count_trainable(base)[1] + formula
    if use_dora:  # one magnitude per output feature of every adapted linear, on top of LoRA's A and B
        outs = sum(m.out_features for _, m in lora.lora_layers(hand))
        assert formula == lora.lora_parameter_count(base.config, targets, r) + outs


def test_count_with_lm_head_and_published_config():
    from transformers import Qwen2Config

    cfg = Qwen2Config(
        hidden_size=3584,
        intermediate_size=18944,
        num_hidden_layers=28,
        num_attention_heads=28,
        num_key_value_heads=4,
        vocab_size=152064,
        tie_word_embeddings=False,
    )
    # per layer at r=1: q 3584+3584, k 3584+512, v 3584+512, o 3584+3584, gate/up 3584+18944 each, down 18944+3584
    per_layer = 7168 + 4096 + 4096 + 7168 + 3 * (3584 + 18944)
    assert lora.lora_parameter_count(cfg, "all-linear", 1) == 28 * per_layer
    assert lora.lora_parameter_count(cfg, "all-linear", 16) == 16 * 28 * per_layer
    assert lora.lora_parameter_count(cfg, ["lm_head"], 2) == 2 * (3584 + 152064)


# --- errors ---------------------------------------------------------------------------------


@pytest.mark.parametrize("r", [0, -4, 2.5, True])
def test_bad_rank_is_refused(tiny, r):
    base, _ = tiny
    with pytest.raises(ValueError, match="positive integer"):
        lora.apply_lora(copy.deepcopy(base), QV, r=r, alpha=8)
    with pytest.raises(ValueError, match="positive integer"):
        lora.LoRALinear(nn.Linear(4, 4), r=r, alpha=8)
    with pytest.raises(ValueError, match="positive integer"):
        lora.lora_parameter_count(base.config, QV, r)


def test_unknown_target_lists_what_is_available(tiny):
    base, _ = tiny
    for bad in (["qkv"], ["q_proj", "query"], "model\\..*\\.attn_out", []):
        with pytest.raises(ValueError, match="Available: .*'q_proj'.*'v_proj'"):
            lora.apply_lora(copy.deepcopy(base), bad, r=4, alpha=8)
    with pytest.raises(ValueError, match="available: .*'gate_proj'"):
        lora.lora_parameter_count(base.config, ["query"], 4)
    with pytest.raises(TypeError, match="nn.Linear"):
        lora.LoRALinear(nn.Embedding(10, 4), r=2, alpha=4)
    with pytest.raises(ValueError, match="already has LoRALinear"):
        lora.apply_lora(lora.apply_lora(copy.deepcopy(base), QV, r=2, alpha=4), QV, r=2, alpha=4)


def test_all_linear_skips_the_output_layer_even_when_tied(tiny):
    base, _ = tiny
    paths = lora.target_paths(base, "all-linear")
    assert "lm_head" not in paths and len(paths) == 7 * base.config.num_hidden_layers
    assert lora.target_paths(base, "model\\.layers\\.0\\.self_attn\\.q_proj") == [
        "model.layers.0.self_attn.q_proj"
    ]


# --- the embedded model ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def embedded():
    model, tok = models.load_model(dtype=torch.float32, device="cpu")
    batch = tok(["Alice is 30 and lives in Paris."], return_tensors="pt")
    return model, batch


@pytest.mark.slow
def test_embedded_forward_merge_and_count_match_peft(embedded):
    base, batch = embedded
    hand, peft_model = _pair(base, QV, r=8, alpha=32)
    out_hand, out_peft = _logits(hand, batch), _logits(peft_model, batch)
    assert (out_hand - _logits(base, batch)).abs().max() > 1e-3
    assert (out_hand - out_peft).abs().max() < TOL
    formula = lora.lora_parameter_count(base.config, QV, 8)
    assert formula == count_trainable(hand)[0] == peft_model.get_nb_trainable_parameters()[0]
    merge_lora(hand)
    merged = _logits(hand, batch)
    assert (merged - _logits(peft_model.merge_and_unload(), batch)).abs().max() < TOL  # the same arithmetic
    # (W + dW) x rounds differently from W x + B A x; through 30 layers that is ~1e-6 of the logits' scale
    assert (merged - out_hand).abs().max() / out_hand.abs().max() < TOL


@pytest.mark.slow
def test_embedded_training_losses_coincide_with_peft(embedded):
    base, batch = embedded
    torch.manual_seed(0)
    hand = lora.apply_lora(copy.deepcopy(base), QV, r=4, alpha=8)
    torch.manual_seed(0)
    peft_model = get_peft_model(copy.deepcopy(base), LoraConfig(r=4, lora_alpha=8, target_modules=QV))
    ours, theirs = _train(hand, [batch], 2, lr=1e-3), _train(peft_model, [batch], 2, lr=1e-3)
    assert ours[-1] < ours[0]
    assert max(abs(a - b) for a, b in zip(ours, theirs, strict=True)) < 1e-4


# --- the notebook's inline layer ------------------------------------------------------------

NOTEBOOK = ROOT / "notebooks" / "03_lora_math.ipynb"


def _inline_class_source(path: Path, name: str = "LoRALinear") -> str:
    """The source of the cell that defines ``class <name>`` in the notebook (the lesson's copy)."""
    return cell_defining(path.name, name, kind="class")


def test_notebook_inline_layer_agrees_with_helpers():
    src = _inline_class_source(NOTEBOOK)
    namespace: dict = {}
    exec(compile("import math\nimport torch\nfrom torch import nn\n" + src, str(NOTEBOOK), "exec"), namespace)
    Inline = namespace["LoRALinear"]
    for r, alpha, rs in [(4, 8, False), (8, 32, True)]:
        base = nn.Linear(24, 40)
        torch.manual_seed(5)
        theirs = Inline(base, r=r, alpha=alpha, **({"use_rslora": True} if rs else {}))
        torch.manual_seed(5)
        ours = lora.LoRALinear(copy.deepcopy(base), r=r, alpha=alpha, use_rslora=rs)
        assert theirs.scaling == ours.scaling
        ta, tb = _ab(theirs)
        assert torch.equal(ta, ours.lora_A.weight)  # same init from the same seed
        assert torch.count_nonzero(tb) == 0
        with torch.no_grad():
            tb.copy_(torch.randn_like(tb))
            ours.lora_B.weight.copy_(tb)
        x = torch.randn(3, 5, 24)  # (batch, seq, in)
        assert (theirs(x) - ours(x)).abs().max() < 1e-6
        assert (_delta(theirs) - ours.delta_weight()).abs().max() < 1e-6


def test_notebook_inline_dora_agrees_with_helpers():
    """The notebook's DoRALinear (built on its LoRALinear) equals helpers.lora.DoRALinear, in eval and in training."""
    namespace: dict = {}
    src = _inline_class_source(NOTEBOOK) + "\n" + _inline_class_source(NOTEBOOK, "DoRALinear")
    exec(compile("import math\nimport torch\nfrom torch import nn\n" + src, str(NOTEBOOK), "exec"), namespace)
    Inline = namespace["DoRALinear"]
    for r, alpha, rs, dropout, bias in [(4, 8, False, 0.0, False), (8, 32, True, 0.2, True)]:
        base = nn.Linear(24, 40, bias=bias)
        torch.manual_seed(5)
        theirs = Inline(base, r=r, alpha=alpha, dropout=dropout, use_rslora=rs)
        torch.manual_seed(5)
        ours = lora.DoRALinear(copy.deepcopy(base), r=r, alpha=alpha, dropout=dropout, use_rslora=rs)
        assert theirs.scaling == ours.scaling
        assert torch.equal(theirs.magnitude, ours.magnitude)  # ||W|| per output feature
        with torch.no_grad():
            theirs.lora_B.weight.copy_(torch.randn_like(theirs.lora_B.weight))
            theirs.magnitude.mul_(1.5)
        ours.load_state_dict(theirs.state_dict())  # same names: base, lora_A, lora_B, magnitude
        x = torch.randn(3, 5, 24)  # (batch, seq, in)
        theirs.eval(), ours.eval()
        assert (theirs(x) - ours(x)).abs().max() < 1e-6
        theirs.train(), ours.train()
        torch.manual_seed(9)
        out_theirs = theirs(x)
        torch.manual_seed(9)
        assert (out_theirs - ours(x)).abs().max() < 1e-6


def _ab(layer: nn.Module) -> tuple[torch.Tensor, torch.Tensor]:
    """A (r, in) and B (out, r) of the notebook's layer, whether they are Parameters or Linear modules."""
    a, b = layer.lora_A, layer.lora_B
    return (a.weight if isinstance(a, nn.Linear) else a), (b.weight if isinstance(b, nn.Linear) else b)


def _delta(layer: nn.Module) -> torch.Tensor:
    a, b = _ab(layer)
    return layer.scaling * (b @ a)


def test_explorer_budget_matches_the_closed_form():
    from helpers import widgets

    config = models.architecture(models.DEFAULT_MODEL)
    b = widgets.lora_budget(models.DEFAULT_MODEL, 8, 32, QV)
    assert b["trainable"] == lora.lora_parameter_count(config, QV, 8)
    assert b["total"] == models.count_parameters(models.DEFAULT_MODEL) + b["trainable"]
    assert b["scaling"] == 4.0 and widgets.lora_budget(models.DEFAULT_MODEL, 8, 32, QV, use_rslora=True)[
        "scaling"
    ] == pytest.approx(32 / math.sqrt(8))
    box = widgets.lora_explorer()  # builds headless, with one row per model
    assert box.children[-1].value.count("<tr>") == 1 + len(widgets.LORA_EXPLORER_MODELS)
