"""Batched greedy generation (model.generate), JSON-extraction scores, confidence intervals, perplexity, and base-vs-tuned tables."""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections import Counter
from collections.abc import Sequence
from typing import Any

import torch

_FENCE_HEAD = r"```[A-Za-z0-9_-]*[ \t]*\n?"  # an opening code fence: ``` and a language name
_FENCE = re.compile(rf"^{_FENCE_HEAD}(.*?)\n?```$", re.DOTALL)


# --- generation ---------------------------------------------------------------------------------


def _eos_ids(model: Any, tokenizer: Any) -> list[int]:
    """Every token id that ends a turn: the tokenizer's eos plus the model's generation_config eos ids."""
    ids: list[int] = []
    for value in (getattr(model.generation_config, "eos_token_id", None), tokenizer.eos_token_id):
        for i in value if isinstance(value, list | tuple) else [value]:
            if i is not None and int(i) not in ids:
                ids.append(int(i))
    if not ids:
        raise ValueError(
            "Neither the tokenizer nor the model's generation_config defines an eos token, so generation "
            "would never stop. Fix: set tokenizer.eos_token (e.g. '<|im_end|>' for ChatML models)."
        )
    return ids


def render_prompts(tokenizer: Any, prompts: Sequence[Sequence[dict]]) -> list[str]:
    """Render chat prompts with the tokenizer's chat template, ending with the assistant header.

    Args:
        tokenizer: a tokenizer with a ``chat_template``.
        prompts: one list of ``{"role", "content"}`` messages per example, WITHOUT the assistant answer.

    Returns:
        The rendered strings (what the model sees; special tokens are already in the text).
    """
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            "The tokenizer has no chat_template, so chat prompts cannot be rendered. Fix: load an Instruct "
            "model, or set tokenizer.chat_template (helpers.models.CHATML_TEMPLATE is a ChatML one)."
        )
    out = []
    for i, messages in enumerate(prompts):
        if not messages or messages[-1].get("role") == "assistant":
            raise ValueError(
                f"Prompt {i} is empty or ends with an assistant turn: {messages!r:.200}. "
                "Fix: pass helpers.data.prompt_messages(record), which drops the answer."
            )
        out.append(tokenizer.apply_chat_template(list(messages), tokenize=False, add_generation_prompt=True))
    return out


# --- generation: the library path (notebook 05 section 2 writes this out) ---------------------------


def json_answer_settled(text: str) -> bool:
    """True once no continuation of the answer ``text`` can make it parse as a JSON object (:func:`parse_json`).

    ``json.loads`` reads a complete object: then anything after it but white space is fatal ("{...} Hope this
    helps"). An unfinished object is read by ``jiter`` in partial mode (installed with ``openai``), which accepts
    every prefix of valid JSON and fails on a character JSON cannot have there (``{"customer": Isla``, ``{'a'``).
    An answer that starts with anything but ``{`` or a code fence ("Sure, here is...") is settled at once; text
    ending in an unfinished UTF-8 character (``\ufffd``) waits for the next token.
    Stopping such an answer cannot change its score: it is invalid JSON either way.
    """
    import jiter

    s = text.strip()
    if not s or s.endswith("\ufffd"):
        return False
    fenced = s.startswith("`")
    if fenced:  # ```json ... ```: the object follows the fence's header
        if len(s) < 3:
            return s != "`" * len(s)
        head = re.match(_FENCE_HEAD, s)
        if head is None:
            return True
        s = s[head.end() :].lstrip()
        if not s:
            return False
    if s[0] != "{":
        return True
    try:
        _, end = json.JSONDecoder().raw_decode(s)
        # a complete object, then more than white space (and a fenced answer's closing backticks)
        return any(not (ch.isspace() or (fenced and ch == "`")) for ch in s[end:])
    except (json.JSONDecodeError, RecursionError):
        pass
    try:
        jiter.from_json(s.encode(), partial_mode="trailing-strings")
    except ValueError:
        return True
    return False


def _settled_stop(tokenizer: Any, answer_start: int, settled: Any) -> Any:
    """A ``StoppingCriteria`` that ends each row once ``settled(answer so far)`` is True (one bool per row)."""
    from transformers import StoppingCriteria

    class Settled(StoppingCriteria):
        def __call__(self, input_ids: torch.Tensor, scores: Any, **kwargs: Any) -> torch.Tensor:
            answers = tokenizer.batch_decode(input_ids[:, answer_start:], skip_special_tokens=True)
            return torch.tensor([settled(a) for a in answers], dtype=torch.bool, device=input_ids.device)

    return Settled()


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[dict]],
    *,
    max_new_tokens: int = 96,
    batch_size: int = 32,
    progress: bool = True,
    desc: str = "generate",
    settled: Any = None,
) -> list[str]:
    """Greedy-decode an answer for each chat prompt with ``model.generate``, in batches, LEFT padded.

    The tested copy of notebook 05's generation cell. Prompts are sorted by length so that a batch holds prompts
    of similar length (less padding), longest first (an out-of-memory error shows at once); answers come back in
    the original order, special tokens removed.

    Args:
        model: a causal LM (a ``PeftModel`` works too).
        tokenizer: its tokenizer; needs a chat template and a pad token (``pad == eos`` is fine: padding is
            described by the attention mask).
        prompts: one message list per example, without the assistant answer.
        max_new_tokens: the longest answer allowed; size it from the longest target plus a margin.
        batch_size: prompts per ``model.generate`` call.
        progress: show a tqdm bar; ``desc`` is its label.
        settled: optional ``f(answer_so_far) -> bool`` (e.g. :func:`json_answer_settled`), passed to
            ``model.generate`` as a ``StoppingCriteria``: a row stops once it is True.

    Returns:
        One decoded answer per prompt, in the order given.
    """
    from tqdm.auto import tqdm

    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size ({batch_size}) and max_new_tokens ({max_new_tokens}) must be >= 1.")
    if tokenizer.pad_token_id is None:
        raise ValueError("The tokenizer has no pad token. Fix: tokenizer.pad_token = tokenizer.eos_token")
    texts = render_prompts(tokenizer, prompts)
    lengths = [len(ids) for ids in tokenizer(texts, add_special_tokens=False)["input_ids"]]
    order = sorted(range(len(texts)), key=lambda i: -lengths[i])  # similar lengths together, longest first
    answers = [""] * len(texts)
    was_training = model.training
    model.eval()
    try:
        with tqdm(total=len(texts), desc=desc, disable=not progress, unit="ex") as bar:
            for start in range(0, len(order), batch_size):
                rows = order[start : start + batch_size]
                batch = tokenizer(
                    [texts[i] for i in rows],
                    return_tensors="pt",
                    padding=True,
                    padding_side="left",  # each answer starts right after its prompt's last token
                    add_special_tokens=False,  # the chat template already wrote them
                ).to(model.device)
                n = batch["input_ids"].shape[1]
                out = model.generate(
                    **batch,
                    do_sample=False,
                    max_new_tokens=max_new_tokens,
                    eos_token_id=_eos_ids(model, tokenizer),
                    pad_token_id=tokenizer.pad_token_id,
                    stopping_criteria=[_settled_stop(tokenizer, n, settled)] if settled else None,
                )
                for i, row in zip(rows, out[:, n:], strict=True):
                    answers[i] = tokenizer.decode(row, skip_special_tokens=True).strip()
                bar.update(len(rows))
    finally:
        model.train(was_training)
    return answers


def max_new_tokens_for(tokenizer: Any, targets: Sequence[str], *, margin: int = 16) -> int:
    """A ``max_new_tokens`` that fits the longest target plus ``margin`` tokens (end-of-turn included)."""
    if not targets:
        raise ValueError("targets is empty; pass the assistant answers you will compare against.")
    longest = max(len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in targets)
    return longest + 1 + margin


# --- parsing and scoring ------------------------------------------------------------------------


def parse_json(text: str | None) -> dict | None:
    """Parse a model answer as a JSON object, or return ``None``.

    The only tolerance, on purpose: surrounding whitespace is stripped, and one Markdown code fence
    around the WHOLE answer (```` ```json ... ``` ````) is removed. Text before or after the object,
    trailing commas, single quotes or a JSON value that is not an object all count as invalid: a
    program reading the answer would fail on them too.

    Args:
        text: the decoded answer.

    Returns:
        The parsed ``dict``, or ``None`` when the answer is not a JSON object.
    """
    if text is None:
        return None
    text = text.strip()
    fenced = _FENCE.match(text)
    if fenced:
        text = fenced.group(1).strip()
    try:
        value = json.loads(text)
    except (json.JSONDecodeError, RecursionError):
        return None
    return value if isinstance(value, dict) else None


def _target_dict(target: str | dict, i: int) -> dict:
    if isinstance(target, dict):
        return target
    value = parse_json(target)
    if value is None:
        raise ValueError(
            f"Target {i} is not a JSON object: {target!r:.200}. Targets must be json.dumps(record)."
        )
    return value


def _fields_of(targets: Sequence[dict]) -> list[str]:
    fields: list[str] = []
    for t in targets:
        fields += [k for k in t if k not in fields]
    return fields


def same_value(answer: Any, gold: Any) -> bool:
    """One field's value, scored by the data contract (data/README.md): strings are equal when they are equal
    after Unicode NFKC, folded white space and case folding ("tom baker" = "Tom Baker"; "yoga mats" is still
    not "yoga mat"); every other value must be equal and of the same type (``30`` and ``"30"`` differ)."""
    if isinstance(answer, str) and isinstance(gold, str):
        return _fold(answer) == _fold(gold)
    return type(answer) is type(gold) and answer == gold


def _fold(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split()).casefold()


def compare_one(prediction: str, target: str | dict, fields: Sequence[str] | None = None) -> dict[str, Any]:
    """Score one answer against its target.

    Args:
        prediction: the model's decoded answer.
        target: the reference JSON text (or the already parsed dict).
        fields: the fields to check; default: the target's keys.

    Returns:
        ``{"json_valid": bool, "exact": bool, "fields": {field: bool}, "wrong_fields": [...],
        "parsed": dict | None, "target": dict}``. A field is right when the prediction has the key
        and its value is :func:`same_value` as the target's (a missing key is wrong even when the target
        is ``null``). Exact match: the same keys, every value :func:`same_value`.
    """
    tgt = _target_dict(target, 0)
    fields = list(fields or tgt)
    parsed = parse_json(prediction)
    per_field = {
        f: parsed is not None and f in parsed and f in tgt and same_value(parsed[f], tgt[f]) for f in fields
    }
    exact = (
        parsed is not None and parsed.keys() == tgt.keys() and all(same_value(parsed[k], tgt[k]) for k in tgt)
    )
    return {
        "json_valid": parsed is not None,
        "exact": exact,
        "fields": per_field,
        "wrong_fields": [f for f, ok in per_field.items() if not ok],
        "parsed": parsed,
        "target": tgt,
    }


def score_extraction(
    predictions: Sequence[str], targets: Sequence[str | dict], *, fields: Sequence[str] | None = None
) -> dict[str, Any]:
    """Score JSON-extraction answers: valid JSON, exact match per field, exact match of the record.

    Args:
        predictions: decoded model answers.
        targets: the reference answers (JSON text, as in the data's assistant turn, or dicts).
        fields: the fields to score; default: every key of the targets, in first-seen order.

    Returns:
        ``{"json_valid": f, "exact_match": f, "field_exact": {field: f}, "n": int}``, fractions in [0, 1].
    """
    if len(predictions) != len(targets):
        raise ValueError(f"{len(predictions)} predictions but {len(targets)} targets; they must pair up 1:1.")
    if not targets:
        raise ValueError("Nothing to score: predictions and targets are empty.")
    tgts = [_target_dict(t, i) for i, t in enumerate(targets)]
    fields = list(fields or _fields_of(tgts))
    rows = [compare_one(p, t, fields) for p, t in zip(predictions, tgts, strict=True)]
    n = len(rows)
    return {
        "json_valid": sum(r["json_valid"] for r in rows) / n,
        "exact_match": sum(r["exact"] for r in rows) / n,
        "field_exact": {f: sum(r["fields"][f] for r in rows) / n for f in fields},
        "n": n,
    }


# --- confidence intervals ----------------------------------------------------------------------


def wilson_interval(k: int, n: int, z: float = 1.96) -> tuple[float, float]:
    """The Wilson score interval for a success rate of ``k`` out of ``n`` (95 % for ``z = 1.96``).

    An exact match of ``k / n`` is measured on a sample of ``n`` examples; the interval says where the rate on
    more examples like them plausibly lies. Unlike the textbook ``p ± z·sqrt(p(1-p)/n)`` it stays inside
    [0, 1] and does not shrink to a single point at 0 % or 100 %, which matters for small subsets::

        center = (p + z²/2n) / (1 + z²/n)
        half   = z / (1 + z²/n) · sqrt(p(1-p)/n + z²/4n²)

    Args:
        k: successes (e.g. exactly matched records), ``0 <= k <= n``.
        n: trials (examples scored), ``n >= 1``.
        z: the normal quantile: 1.96 for 95 %, 2.576 for 99 %.

    Returns:
        ``(low, high)``, with ``0 <= low <= k/n <= high <= 1``.
    """
    if isinstance(k, bool) or isinstance(n, bool) or int(k) != k or int(n) != n:
        raise ValueError(f"k ({k!r}) and n ({n!r}) must be whole counts, e.g. the number of exact records.")
    if n < 1 or not 0 <= k <= n:
        raise ValueError(f"Need 0 <= k <= n and n >= 1, got k={k}, n={n}.")
    if z < 0:
        raise ValueError(f"z must be >= 0 (1.96 for a 95 % interval), got {z}.")
    p = k / n
    denom = 1 + z * z / n
    center = (p + z * z / (2 * n)) / denom
    half = z / denom * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    low = 0.0 if k == 0 else max(0.0, center - half)  # exact bounds where rounding would leave 1e-17
    high = 1.0 if k == n else min(1.0, center + half)
    return low, high


# --- perplexity ---------------------------------------------------------------------------------


@torch.inference_mode()
def perplexity(
    model: Any,
    features: Sequence[dict],
    *,
    batch_size: int = 16,
    collator: Any = None,
    progress: bool = True,
    desc: str = "perplexity",
) -> dict[str, float]:
    """Token-weighted loss and perplexity on the trained tokens (``labels != -100``) only.

    The sum of the per-token negative log-likelihoods divided by the number of scored tokens, so a
    long answer counts more than a short one. (The Trainer's ``eval_loss`` averages per batch, which
    differs slightly when batches hold different numbers of answer tokens.)

    Args:
        model: a causal LM.
        features: tokenized examples with ``input_ids``, ``attention_mask`` and ``labels`` (lists or
            tensors), e.g. from ``helpers.data.tokenize_records``.
        batch_size: examples per forward pass.
        collator: pads a list of features into a batch; default :class:`helpers.data.ChatCollator` (right
            padding, labels -100, attention 0; the pad id does not matter, padding is masked out).
        progress: show a tqdm bar.
        desc: the bar's label.

    Returns:
        ``{"loss": mean NLL per scored token, "perplexity": exp(loss), "n_tokens": int}``.
    """
    from types import SimpleNamespace

    from tqdm.auto import tqdm

    from helpers.data import ChatCollator

    if not features:
        raise ValueError(
            "No features to score. Fix: tokenize some records first (helpers.data.tokenize_records)."
        )
    # logits only at the positions whose next token is scored: the same NLL, a fraction of the output head's work
    collate = collator or ChatCollator(
        SimpleNamespace(pad_token_id=0, eos_token_id=None), only_learned_logits=True
    )
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    total_nll, total_tokens = 0.0, 0
    # batches of similar lengths: less padding to compute (the sum below does not depend on the order)
    ordered = sorted(features, key=lambda f: len(f["input_ids"]))
    try:
        for start in tqdm(range(0, len(ordered), batch_size), desc=desc, disable=not progress):
            batch = collate(ordered[start : start + batch_size])
            input_ids = batch["input_ids"].to(device)  # (batch, seq)
            mask = batch["attention_mask"].to(device)
            if "logits_to_keep" in batch:  # kept positions and the labels they predict, already shifted
                keep = batch["logits_to_keep"].to(device)  # (kept,)
                logits = model(input_ids=input_ids, attention_mask=mask, logits_to_keep=keep).logits.float()
                targets = batch["shift_labels"].to(device)  # (batch, kept)
            else:  # position t predicts token t+1: shift, then score only the trained positions
                logits = (
                    model(input_ids=input_ids, attention_mask=mask).logits[:, :-1].float()
                )  # (batch, seq-1, vocab)
                targets = batch["labels"].to(device)[:, 1:]  # (batch, seq-1)
            nll = torch.nn.functional.cross_entropy(
                logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), ignore_index=-100, reduction="sum"
            )
            total_nll += float(nll)
            total_tokens += int((targets != -100).sum())
    finally:
        model.train(was_training)
    if total_tokens == 0:
        raise ValueError(
            "No scored tokens: every label is -100. Check the label mask (assistant tokens must keep ids)."
        )
    loss = total_nll / total_tokens
    return {"loss": loss, "perplexity": math.exp(loss), "n_tokens": total_tokens}


# --- comparison tables and error analysis -------------------------------------------------------


def comparison_table(scores: dict[str, dict[str, Any]]):
    """One row per metric, one column per model: ``json_valid``, ``exact_match`` and ``field:<name>``.

    Args:
        scores: e.g. ``{"base": score_extraction(...), "tuned": score_extraction(...)}``.

    Returns:
        A ``pandas.DataFrame`` (fractions), with a ``delta`` column (last minus first) when there are two models.
    """
    import pandas as pd

    if not scores:
        raise ValueError("scores is empty; pass {'base': score_extraction(...), 'tuned': ...}.")
    table = {}
    for name, s in scores.items():
        col = {"json_valid": s["json_valid"], "exact_match": s["exact_match"]}
        col.update({f"field:{f}": v for f, v in s["field_exact"].items()})
        table[name] = col
    df = pd.DataFrame(table)
    if len(scores) == 2:
        first, last = list(scores)
        df["delta"] = df[last] - df[first]
    return df


def error_rows(
    records: Sequence[dict],
    predictions: Sequence[str],
    targets: Sequence[str | dict] | None = None,
    *,
    fields: Sequence[str] | None = None,
) -> list[dict[str, Any]]:
    """One row per example: its language, hard-case tags, validity, exactness and the fields it got wrong.

    Args:
        records: the data records (their ``meta`` gives ``lang`` and ``tags``; the last message is the target).
        predictions: the model's answers, one per record.
        targets: the reference answers; default: each record's final assistant message.
        fields: the fields to check; default: every key of the targets.

    Returns:
        A list of dicts with keys ``i, lang, tags, user, prediction, target, json_valid, exact, wrong_fields``.
    """
    if len(records) != len(predictions):
        raise ValueError(f"{len(records)} records but {len(predictions)} predictions; they must pair up 1:1.")
    if targets is None:
        targets = [r["messages"][-1]["content"] for r in records]
    tgts = [_target_dict(t, i) for i, t in enumerate(targets)]
    fields = list(fields or _fields_of(tgts))
    rows = []
    for i, (rec, pred, tgt) in enumerate(zip(records, predictions, tgts, strict=True)):
        meta = rec.get("meta") or {}
        res = compare_one(pred, tgt, fields)
        user = next((m["content"] for m in reversed(rec["messages"]) if m["role"] == "user"), "")
        rows.append(
            {
                "i": i,
                "lang": meta.get("lang", "?"),
                "tags": list(meta.get("tags") or []),
                "user": user,
                "prediction": pred,
                "target": json.dumps(tgt, ensure_ascii=False),
                "json_valid": res["json_valid"],
                "exact": res["exact"],
                "wrong_fields": res["wrong_fields"],
            }
        )
    return rows


def group_failures(rows: Sequence[dict], by: str) -> dict[str, dict[str, int]]:
    """Count failures by ``"field"``, ``"lang"`` or ``"tag"``.

    Args:
        rows: from :func:`error_rows`.
        by: ``"field"``: how often each field is wrong (invalid JSON counts as ``"<invalid json>"``);
            ``"lang"`` / ``"tag"``: examples and non-exact examples per language / per hard-case tag
            (an example with several tags counts once for each; untagged ones under ``"<none>"``).

    Returns:
        ``{group: {"n": examples in the group, "failed": non-exact ones}}``; for ``"field"``,
        ``{field: {"n": examples, "failed": times the field was wrong}}``. Sorted by ``failed``, largest first.
    """
    n = len(rows)
    groups: dict[str, Counter] = {}
    if by == "field":
        for r in rows:
            keys = ["<invalid json>"] if not r["json_valid"] else r["wrong_fields"]
            for k in keys:
                groups.setdefault(k, Counter(n=n))["failed"] += 1
    elif by in {"lang", "tag"}:
        for r in rows:
            keys = [r["lang"]] if by == "lang" else (r["tags"] or ["<none>"])
            for k in keys:
                c = groups.setdefault(k, Counter())
                c["n"] += 1
                c["failed"] += int(not r["exact"])
    else:
        raise ValueError(f"by={by!r} is not a grouping; use 'field', 'lang' or 'tag'.")
    out = {k: {"n": int(c["n"]), "failed": int(c["failed"])} for k, c in groups.items()}
    return dict(sorted(out.items(), key=lambda kv: (-kv[1]["failed"], kv[0])))


def side_by_side_html(rows: Sequence[dict], *, max_rows: int = 10, title: str | None = None) -> str:
    """A static HTML table (prompt | target | base | tuned), readable in a notebook saved without a kernel.

    Args:
        rows: dicts with ``user``, ``target``, ``base`` and ``tuned`` (and optionally ``lang``, ``base_ok``,
            ``tuned_ok`` booleans that mark the cells ✓ right or ✗ wrong, on green or red).
        max_rows: how many rows to show.
        title: an optional caption.

    Returns:
        The HTML string (wrap it in ``IPython.display.HTML``).
    """
    from html import escape

    def cell(text: str, ok: bool | None = None) -> str:
        colour = {True: "#e6f4ea", False: "#fce8e6", None: "transparent"}[ok]
        mark = {True: "<b>✓ right</b><br>", False: "<b>✗ wrong</b><br>", None: ""}[
            ok
        ]  # read without colour too
        return (
            f'<td style="background:{colour};text-align:left;vertical-align:top;'
            f'font-family:monospace;white-space:pre-wrap;max-width:22em">{mark}{escape(str(text))}</td>'
        )

    head = "".join(
        f'<th style="text-align:left">{h}</th>' for h in ["lang", "prompt", "target", "base", "tuned"]
    )
    body = []
    for r in list(rows)[:max_rows]:
        body.append(
            "<tr>"
            + cell(r.get("lang", ""))
            + cell(r["user"])
            + cell(r["target"])
            + cell(r["base"], r.get("base_ok"))
            + cell(r["tuned"], r.get("tuned_ok"))
            + "</tr>"
        )
    caption = f"<caption style='text-align:left'>{escape(title)}</caption>" if title else ""
    return f'<table style="border-collapse:collapse;font-size:85%">{caption}<tr>{head}</tr>{"".join(body)}</table>'
