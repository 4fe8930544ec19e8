"""Scoring the test split three ways, side by side in one process: the old hand-written engine, model.generate, and
model.generate_batch (transformers' continuous batching).

    python benchmarks/generation.py                 # the whole test split, both models, as notebook 05 scores it
    python benchmarks/generation.py --n 64          # the first 64 test prompts

Notebook 05 scores the tuned model (a merged copy, as in its section 2.3) and the base model (the adapter disabled)
on the test split, greedy, with ``max_new_tokens`` from the validation answers. Each way below does exactly that, on
the same prompts, and the script prints seconds, the ratio to the engine, the exact-match scores and how many answers
differ from the engine's:

- engine: ``benchmarks/engine.py``, the course's decoder until December 2026 (continuous batching by editing the
  KV cache, a hand-written JSON scanner that stops rows that can no longer parse);
- generate: ``model.generate`` on length-sorted, left-padded batches with a ``StoppingCriteria`` that stops an
  answer once it can no longer parse (``evaluate.json_answer_settled``), each batch run to its slowest row
  (``helpers.evaluate.generate``, notebook 05's cell);
- generate_rounds (an experiment, below): the same calls in rounds: a round ends once ``--leave_at`` of a batch's
  rows have ended, and the rows still going are pooled into full batches for the next round, each re-run from its
  prompt plus its answer so far. The re-run prompt is computed in one pass instead of token by token, which rounds
  differently, so a few greedy answers change;
- generate_batch: ``model.generate_batch``, continuous batching in transformers (paged KV cache); it takes no
  stopping criteria, so the base model's answers run to end-of-turn or ``max_new_tokens``.

An answer that stopped early (once it could no longer parse) is the start of the full one, and its score is the
same; the script counts those apart from answers that really differ. Writes runs/bench/generation.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from helpers import data, env, evaluate, models  # noqa: E402

HERE = Path(__file__).resolve().parent


def _decode(fn, settled, **extra):
    """One way of scoring: ``fn(model, tokenizer, prompts, ...)`` with the settled stop ``settled``."""

    def run(model, tokenizer, prompts, max_new, batch_size):
        return fn(model, tokenizer, prompts, max_new_tokens=max_new, batch_size=batch_size, progress=False,
                  settled=settled, **extra)  # fmt: skip

    return run


def _engine(model, tokenizer, prompts, max_new, batch_size):
    sys.path.insert(0, str(HERE))
    import engine

    return _decode(engine.generate, engine.json_answer_settled)(
        model, tokenizer, prompts, max_new, batch_size
    )


def _generate_batch(model, tokenizer, prompts, max_new, batch_size):
    from transformers import GenerationConfig
    from transformers.generation.configuration_utils import ContinuousBatchingConfig

    ids = [
        tokenizer(t, add_special_tokens=False)["input_ids"]
        for t in evaluate.render_prompts(tokenizer, prompts)
    ]
    config = GenerationConfig(
        do_sample=False,
        max_new_tokens=max_new,
        eos_token_id=evaluate._eos_ids(model, tokenizer),
        pad_token_id=tokenizer.pad_token_id,
    )
    out = model.generate_batch(
        ids,
        generation_config=config,
        continuous_batching_config=ContinuousBatchingConfig(max_requests_per_batch=batch_size),
        progress_bar=False,
    )
    by_prompt = sorted(out.values(), key=lambda o: int(str(o.request_id).split("_")[-1]))
    return [tokenizer.decode(o.generated_tokens, skip_special_tokens=True).strip() for o in by_prompt]


# --- the rounds experiment ------------------------------------------------------------


def _round_stop(
    tokenizer: Any, prompt_end: int, done: int, ends: list[int], settled: Any, leave_at: float
) -> Any:
    """A ``StoppingCriteria`` for one round: a row stops once ``settled(its answer)`` is True (one bool per row), and
    every row stops once ``leave_at`` of the batch has ended or is settled (the rest go on in the next round)."""
    from transformers import StoppingCriteria

    class Round(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            ended = torch.isin(input_ids[:, prompt_end:], torch.tensor(ends, device=input_ids.device)).any(-1)
            if settled is not None:
                answers = tokenizer.batch_decode(input_ids[:, prompt_end - done :], skip_special_tokens=True)
                ended |= torch.tensor(
                    [settled(a) for a in answers], dtype=torch.bool, device=input_ids.device
                )
            if ended.float().mean() >= leave_at:
                return torch.ones_like(ended)
            return ended

    return Round()


@torch.inference_mode()
def generate_rounds(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[dict]],
    *,
    max_new_tokens: int = 96,
    batch_size: int = 32,
    progress: bool = True,
    desc: str = "generate",
    settled: Any = None,
    leave_at: float | None = 0.75,
) -> list[str]:
    """helpers.evaluate.generate (same arguments), decoded in rounds: a round ends once ``leave_at`` of a batch's
    rows have ended or settled, and the rows still going are re-run, pooled, from prompt plus answer so far."""
    from tqdm.auto import tqdm

    from helpers.evaluate import _eos_ids, render_prompts

    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size ({batch_size}) and max_new_tokens ({max_new_tokens}) must be >= 1.")
    if tokenizer.pad_token_id is None:
        raise ValueError("The tokenizer has no pad token. Fix: tokenizer.pad_token = tokenizer.eos_token")
    texts = render_prompts(tokenizer, prompts)
    prompt_ids = tokenizer(texts, add_special_tokens=False)[
        "input_ids"
    ]  # the template wrote the special tokens
    eos = _eos_ids(model, tokenizer)
    ends = {*eos, tokenizer.pad_token_id}  # a row that stopped early is padded from there on
    new: list[list[int]] = [[] for _ in texts]
    todo = sorted(
        range(len(texts)), key=lambda i: -len(prompt_ids[i])
    )  # similar lengths together, longest first
    was_training = model.training
    model.eval()
    try:
        with tqdm(total=len(texts), desc=desc, disable=not progress, unit="ex") as bar:
            while todo:
                done = len(new[todo[0]])  # every answer still going has this many tokens
                going = []
                for start in range(0, len(todo), batch_size):
                    rows = todo[start : start + batch_size]
                    batch = tokenizer.pad(
                        {"input_ids": [prompt_ids[i] + new[i] for i in rows]},
                        padding_side="left",  # each answer continues right after its own last token
                        return_tensors="pt",
                    ).to(model.device)
                    n = batch["input_ids"].shape[1]
                    out = model.generate(
                        **batch,
                        do_sample=False,
                        max_new_tokens=max_new_tokens - done,
                        eos_token_id=eos,
                        pad_token_id=tokenizer.pad_token_id,
                        stopping_criteria=[
                            _round_stop(tokenizer, n, done, sorted(ends), settled, leave_at or 2.0)
                        ],
                    )
                    for i, row in zip(rows, out[:, n:].tolist(), strict=True):
                        end = next((k for k, t in enumerate(row) if t in ends), None)
                        new[i] += row[:end]
                        answer = tokenizer.decode(new[i], skip_special_tokens=True) if settled else ""
                        if end is None and len(new[i]) < max_new_tokens and not (settled and settled(answer)):
                            going.append(i)
                bar.update(len(todo) - len(going))
                todo = going
    finally:
        model.train(was_training)
    return [tokenizer.decode(tokens, skip_special_tokens=True).strip() for tokens in new]


WAYS = {
    "engine": _engine,
    "generate": _decode(evaluate.generate, evaluate.json_answer_settled),
    "generate_rounds": lambda *a: _decode(generate_rounds, evaluate.json_answer_settled, leave_at=LEAVE_AT)(
        *a
    ),
    "generate_batch": _generate_batch,
}
LEAVE_AT = 0.75


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", default=models.DEFAULT_MODEL)
    parser.add_argument("--adapter", default=None, help="default <artifacts>/adapter (notebook 04's)")
    parser.add_argument("--data_dir", default="data/extraction")
    parser.add_argument("--n", type=int, default=None, help="test prompts (default: the whole split)")
    parser.add_argument("--batch_size", type=int, default=32, help="notebook 05's BATCH_SIZE")
    parser.add_argument(
        "--ways", nargs="+", default=["engine", "generate", "generate_batch"], choices=list(WAYS)
    )
    parser.add_argument(
        "--leave_at",
        type=float,
        default=LEAVE_AT,
        help="generate_rounds: the share of a batch that ends its round",
    )
    ns = parser.parse_args(argv)
    globals()["LEAVE_AT"] = ns.leave_at

    from peft import PeftModel

    env.setup(seed=0)
    splits = data.load_splits(ns.data_dir)
    test = splits["test"][: ns.n] if ns.n else splits["test"]
    prompts = [data.prompt_messages(r) for r in test]
    targets = [data.target_text(r) for r in test]
    base, tokenizer = models.load_model(ns.model)
    adapter = Path(ns.adapter) if ns.adapter else env.artifacts_dir() / "adapter"
    model = PeftModel.from_pretrained(base, adapter).eval()
    merged = copy.deepcopy(model).merge_and_unload().eval()
    max_new = evaluate.max_new_tokens_for(
        tokenizer, [data.target_text(r) for r in splits["validation"]], margin=16
    )
    print(
        f"{len(prompts)} test prompts, max_new_tokens {max_new}, batches of {ns.batch_size}, torch threads "
        f"{torch.get_num_threads()}"
    )

    results: dict[str, dict] = {}
    answers: dict[str, dict[str, list[str]]] = {}
    for way in ns.ways:
        row: dict = {}
        answers[way] = {}
        for name in ("tuned", "base"):
            start = time.perf_counter()
            try:
                if name == "tuned":
                    out = WAYS[way](merged, tokenizer, prompts, max_new, ns.batch_size)
                else:
                    with model.disable_adapter():
                        out = WAYS[way](model, tokenizer, prompts, max_new, ns.batch_size)
            except Exception as err:  # noqa: BLE001 - a way that does not run here is reported, not fatal
                row[name] = {"error": f"{type(err).__name__}: {err}"[:300]}
                print(f"  {way:15s} {name:5s} failed: {row[name]['error']}")
                continue
            seconds = time.perf_counter() - start
            answers[way][name] = out
            score = evaluate.score_extraction(out, targets)
            row[name] = {"seconds": round(seconds, 1), "exact_match": score["exact_match"]}
            print(
                f"  {way:15s} {name:5s} {seconds:7.1f} s  exact match {score['exact_match']:.3f}", flush=True
            )
        results[way] = row

    reference = answers.get("engine", {})
    for way, row in results.items():
        total = [row[n].get("seconds") for n in ("tuned", "base")]
        row["seconds"] = round(sum(total), 1) if None not in total else None
        for name, ref in reference.items():
            got = answers[way].get(name)
            if got is None:
                continue
            same = sum(a == b for a, b in zip(got, ref, strict=True))
            # an answer stopped once it could no longer parse is the start of the longer one: the same score
            cut = sum(
                a != b
                and (a.startswith(b) or b.startswith(a))
                and evaluate.parse_json(a) is None
                and evaluate.parse_json(b) is None
                for a, b in zip(got, ref, strict=True)
            )
            row[name]["vs_engine"] = {
                "identical": same,
                "cut_earlier_or_later": cut,
                "differ": len(ref) - same - cut,
            }
    if results.get("engine", {}).get("seconds"):
        for row in results.values():
            if row.get("seconds"):
                row["ratio_to_engine"] = round(row["seconds"] / results["engine"]["seconds"], 3)
    print(
        "\nway              seconds  / engine   tuned EM   base EM   answers vs the engine (same / cut / differ)"
    )
    for way, row in results.items():
        vs = " | ".join(
            f"{n} {row[n]['vs_engine']['identical']}/{row[n]['vs_engine']['cut_earlier_or_later']}/"
            f"{row[n]['vs_engine']['differ']}"
            for n in ("tuned", "base")
            if "vs_engine" in row.get(n, {})
        )
        em = [
            f"{row[n]['exact_match']:.3f}" if "exact_match" in row.get(n, {}) else "  -  "
            for n in ("tuned", "base")
        ]
        print(
            f"{way:15s} {row['seconds'] or float('nan'):8.1f}  {row.get('ratio_to_engine', float('nan')):7.3f}   "
            f"{em[0]:>8s}  {em[1]:>8s}   {vs}"
        )
    out = {
        "n": len(prompts),
        "max_new_tokens": max_new,
        "batch_size": ns.batch_size,
        "leave_at": ns.leave_at,
        "machine": env.machine_report(),
        "ways": results,
    }
    folder = env.home() / "runs" / "bench"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "generation.json").write_text(json.dumps(out, indent=2), encoding="utf-8")
    return out


if __name__ == "__main__":
    main()
