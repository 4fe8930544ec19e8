"""Today's hand-written decoding engine, kept only as the baseline of benchmarks/generation.py.

Until December 2026 this was ``helpers.evaluate.generate``: greedy decoding with continuous batching done by editing
``DynamicCache`` layers in place (rows leave the batch when they end; waiting prompts are left-padded into the running
cache), the shared system-prompt KV computed once, and a hand-written streaming JSON-grammar scanner
(``json_answer_settled``) that stops a row once its answer can no longer parse. It leans on transformers internals
(``cache=``, ``DynamicLayer``, ``batch_select_indices``) that move between 5.x releases, and no learner can copy it,
so the course now scores with ``model.generate`` (helpers.evaluate.generate). This file lets the benchmark measure
the two side by side on the same prompts. Not imported by the course.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Sequence
from typing import Any

import torch

from helpers.evaluate import _FENCE_HEAD, _eos_ids, render_prompts

_JSON_WS = " \t\n\r"
# Python's json also reads NaN and Infinity
_LITERALS = {w[0]: w for w in ("true", "false", "null", "NaN", "Infinity")}
# loose on purpose (-Infinity, 1e-5): a character wrongly taken as part of a number only lets the row run on
_NUMBER_CHARS = frozenset("0123456789+-.eEInfity")


def _json_object_prefix(s: str) -> tuple[bool, int | None]:
    """Scan ``s``, which starts with ``{``, as the beginning of a JSON object text (the grammar ``json.loads`` reads).

    Returns ``(alive, end)``: ``alive`` is False once a character appears that no JSON text allows there (so no
    continuation can parse); ``end`` is the index just past the object's closing brace, once it has closed. Where
    it is unsure (inside a number) it says alive: a row that runs on costs time, a row stopped wrongly costs score.
    """
    stack: list[str] = []
    state, key, literal, pending = "value", False, "", 0
    i = 0
    while i < len(s):
        c = s[i]
        if state == "string":
            if c == '"':
                state = "colon" if key else "after"
            elif c == "\\":
                state = "escape"
            elif ord(c) < 0x20:  # a raw control character (a newline) inside a string: json.loads refuses it
                return False, None
        elif state == "escape":
            if c == "u":
                state, pending = "hex", 4
            elif c in '"\\/bfnrt':
                state = "string"
            else:
                return False, None
        elif state == "hex":
            if c not in "0123456789abcdefABCDEF":
                return False, None
            pending -= 1
            state = "hex" if pending else "string"
        elif state == "literal":
            if c != literal[pending]:
                return False, None
            pending += 1
            state = "literal" if pending < len(literal) else "after"
        elif state == "number" and c in _NUMBER_CHARS or c in _JSON_WS and state != "number":
            pass  # the number goes on, or white space between tokens
        elif state in ("value", "value_or_close"):
            if c == "]" and state == "value_or_close":
                stack.pop()
                state = "after"
                if not stack:
                    return True, i + 1
            elif c == "{":
                stack.append("{")
                state = "key_or_close"
            elif c == "[":
                stack.append("[")
                state = "value_or_close"
            elif c == '"':
                state, key = "string", False
            elif c == "-" or c.isdigit() and c.isascii():
                state = "number"
            elif c in _LITERALS:
                state, literal, pending = "literal", _LITERALS[c], 1
            else:
                return False, None
        elif state in ("key", "key_or_close"):
            if c == '"':
                state, key = "string", True
            elif c == "}" and state == "key_or_close":
                stack.pop()
                state = "after"
                if not stack:
                    return True, i + 1
            else:
                return False, None
        elif state == "colon":
            if c != ":":
                return False, None
            state = "value"
        else:  # "after" a value, or the first character after a number (read again here)
            if state == "number":
                state = "after"
                continue
            if c == "," and stack:
                state = "key" if stack[-1] == "{" else "value"
            elif stack and c == ("}" if stack[-1] == "{" else "]"):
                stack.pop()
                if not stack:
                    return True, i + 1
            elif c in _JSON_WS:
                pass
            else:
                return False, None
        i += 1
    return True, None


def json_answer_settled(text: str) -> bool:
    """True when no continuation of the answer ``text`` can make it parse as a JSON object (:func:`parse_json`).

    The answer is read as it streams, with the grammar ``json.loads`` uses: it is settled once it starts with
    anything but ``{`` or a code fence (the base model's "Sure, here is..."), once a character appears that JSON
    does not allow at that point (``{"customer": Isla``: a value must be quoted; ``{'a': 1}``; a raw newline inside
    a string), or once a complete object is followed by more than white space ("{...} Hope this helps"). Either way
    the answer's score is already fixed: invalid JSON, so not exact. ``generate(..., settled=...)`` stops such a
    row early. Text ending in an unfinished UTF-8 character (``\ufffd``) waits for the next token.
    """
    s = text.lstrip()
    if not s or s.endswith("\ufffd"):
        return False
    fenced = s.startswith("`")
    if fenced:  # ```json ... ```: the object must follow the fence's header
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
    alive, end = _json_object_prefix(s)
    if not alive:
        return True
    if end is None:
        return False  # the object is still open
    rest = s[end:]  # after the object: only white space, and a fenced answer's closing backticks
    return any(not (ch.isspace() or (fenced and ch == "`")) for ch in rest)


def _prefill(
    model: Any, input_ids: torch.Tensor, mask: torch.Tensor, cache: Any = None
) -> tuple[Any, torch.Tensor]:
    """Run left-padded prompts (``mask`` covers ``cache``'s columns too, if a cache is given); return the KV cache
    and each row's next-token logits."""
    from transformers import DynamicCache

    cache = DynamicCache(config=model.config) if cache is None else cache
    positions = (mask.cumsum(-1) - 1).clamp(min=0)  # each row counts from its first real token
    logits = model(
        input_ids=input_ids,
        attention_mask=mask,
        position_ids=positions[:, -input_ids.shape[1] :],
        cache=cache,
        use_cache=True,
        logits_to_keep=1,  # the head runs at the last position only
    ).logits[:, -1]
    return cache, logits


def _shared_prefix(ids: Sequence[Sequence[int]]) -> int:
    """How many leading tokens every prompt shares (the chat template's start and the system prompt), leaving each
    prompt at least one token of its own."""
    n = min(len(x) for x in ids) - 1
    for x in ids[1:]:
        n = next((k for k in range(n) if x[k] != ids[0][k]), n)
    return max(n, 0)


def _can_join(cache: Any) -> bool:
    """True when every layer of ``cache`` is a plain growing KV layer, so new rows can be padded in on the left."""
    from transformers.cache_utils import DynamicLayer

    return all(type(layer) is DynamicLayer for layer in cache.layers)


def _join(cache: Any, mask: torch.Tensor, extra: Any, extra_mask: torch.Tensor) -> torch.Tensor:
    """Append ``extra``'s rows to ``cache`` (in place), left-padding the shorter side's keys and values with masked
    zeros; returns the joined attention mask. Padding is invisible: its mask is 0, and positions come from the mask."""
    width = max(mask.shape[1], extra_mask.shape[1])

    def pad(t: torch.Tensor, length: int) -> torch.Tensor:  # (rows, heads, length, dim): zeros on the left
        return torch.nn.functional.pad(t, (0, 0, width - length, 0))

    for layer, other in zip(cache.layers, extra.layers, strict=True):
        layer.keys = torch.cat([pad(layer.keys, mask.shape[1]), pad(other.keys, extra_mask.shape[1])])
        layer.values = torch.cat([pad(layer.values, mask.shape[1]), pad(other.values, extra_mask.shape[1])])
    return torch.cat(
        [
            torch.nn.functional.pad(mask, (width - mask.shape[1], 0)),
            torch.nn.functional.pad(extra_mask, (width - extra_mask.shape[1], 0)),
        ]
    )


def _trim(cache: Any, mask: torch.Tensor) -> torch.Tensor:
    """Drop the cache's leading columns that are padding in every row (left there by rows that have left), so
    attention and the per-step cache copy do not grow with every join; returns the trimmed mask."""
    first = int(mask.any(0).int().argmax())  # the first column some row attends to
    if first:
        for layer in cache.layers:
            layer.keys, layer.values = layer.keys[..., first:, :], layer.values[..., first:, :]
    return mask[:, first:]


def _greedy_stream(
    model: Any,
    tokenizer: Any,
    ids: Sequence[Sequence[int]],
    order: Sequence[int],
    *,
    batch_size: int,
    max_new_tokens: int,
    eos: list[int],
    settled: Any,
    join: bool,
    on_done: Any,
) -> list[list[int]]:
    """Greedy decoding with continuous batching: a row LEAVES the batch (and the KV cache) as soon as it ends its
    turn, its answer is settled or it reaches ``max_new_tokens``, and waiting prompts (taken in ``order``) JOIN the
    batch once a quarter of it is free (``join=False``: only when the batch is empty, i.e. static batches). So the
    batch stays full, and no row waits for the slowest one of its batch. The tokens every prompt starts with (the
    system prompt) are computed once: each joining prompt starts from a copy of their KV cache.

    ``model.generate`` keeps finished rows in the batch, computing padding for them until the last row ends: a batch
    costs its slowest row. The next token here is the same argmax ``model.generate(do_sample=False)`` takes, at the
    same positions (``tests/test_evaluate.py`` compares the two). Returns each prompt's new token ids, end-of-turn
    excluded.
    """
    device = next(model.parameters()).device
    stops = set(eos)
    new: list[list[int]] = [[] for _ in ids]
    shared = _shared_prefix(ids) if len(ids) > 1 else 0
    shared = shared if shared >= 8 else 0  # a shorter start is not worth sharing
    prefix = None  # the shared tokens' KV cache, one row
    if shared:
        prefix, _ = _prefill(
            model,
            torch.tensor([ids[0][:shared]], device=device),
            torch.ones(1, shared, dtype=torch.long, device=device),
        )
        if not _can_join(prefix):
            prefix, shared = None, 0
    waiting = list(order)[::-1]  # pop() takes the next one
    rows: list[int] = []  # which prompt each batch row is
    cache, mask, logits, plain = None, None, None, False
    while waiting or rows:
        free = batch_size - len(rows)
        # prompts join the batch: a new batch, or (continuous batching) once a quarter of it is free
        if waiting and (not rows or join and plain and free >= max(1, batch_size // 4)):
            take = [waiting.pop() for _ in range(min(free, len(waiting)))]
            own = [ids[i][shared:] for i in take]
            width = max(map(len, own))  # left padding: each answer starts right after its prompt's last token
            input_ids = torch.tensor(
                [[tokenizer.pad_token_id] * (width - len(x)) + list(x) for x in own], device=device
            )
            extra_mask = torch.tensor([[0] * (width - len(x)) + [1] * len(x) for x in own], device=device)
            extra = None
            if prefix is not None:  # the shared tokens, then each prompt's own (padding between them, masked)
                extra = copy.deepcopy(prefix)
                extra.batch_repeat_interleave(len(take))
                extra_mask = torch.cat([extra_mask.new_ones(len(take), shared), extra_mask], dim=1)
            extra, extra_logits = _prefill(model, input_ids, extra_mask, extra)
            if rows:
                mask = _join(cache, mask, extra, extra_mask)
                logits = torch.cat([logits, extra_logits])
                rows += take
            else:  # a new batch; a cache with sliding-window layers takes no new rows: static batches then
                cache, mask, logits, rows, plain = extra, extra_mask, extra_logits, take, _can_join(extra)
        tokens = logits.argmax(-1)  # (rows,)
        keep = []
        for j, (row, token) in enumerate(zip(rows, tokens.tolist(), strict=True)):  # one device sync per step
            if token in stops:
                on_done(row)  # its turn ended
                continue
            new[row].append(token)
            if len(new[row]) == max_new_tokens or (
                settled is not None and settled(tokenizer.decode(new[row], skip_special_tokens=True))
            ):
                on_done(row)  # out of tokens, or its score can no longer change
                continue
            keep.append(j)
        if len(keep) < len(rows):  # the finished rows leave the batch and the cache
            index = torch.tensor(keep, device=device, dtype=torch.long)
            cache.batch_select_indices(index)
            mask, tokens = mask[index], tokens[index]
            rows = [rows[j] for j in keep]
            if rows and plain:
                mask = _trim(cache, mask)
        if not rows:
            continue
        mask = torch.cat([mask, mask.new_ones(len(rows), 1)], dim=1)
        logits = model(
            input_ids=tokens[:, None],
            attention_mask=mask,
            position_ids=mask.sum(-1, keepdim=True) - 1,
            cache=cache,
            use_cache=True,
        ).logits[:, -1]
    return new


@torch.inference_mode()
def generate(
    model: Any,
    tokenizer: Any,
    prompts: Sequence[Sequence[dict]],
    *,
    max_new_tokens: int = 96,
    batch_size: int = 16,
    progress: bool = True,
    desc: str = "generate",
    settled: Any = None,
    join: bool = True,
) -> list[str]:
    """Greedy-decode an answer for each chat prompt, with continuous batching and LEFT padding.

    Prompts enter longest first (an out-of-memory error shows at once); each answer stops at the end-of-turn token,
    and its row then leaves the batch while a waiting prompt takes its place (:func:`_greedy_stream`). The answers
    are returned in the original order, special tokens removed.

    Args:
        model: a causal LM (a ``PeftModel`` works too).
        tokenizer: its tokenizer; needs a chat template and a pad token (``pad == eos`` is fine,
            because padding is described by the attention mask, never by the token id).
        prompts: one message list per example, without the assistant answer.
        max_new_tokens: the longest answer allowed; size it from the longest target plus a margin.
        batch_size: rows decoded together (32 for a 135M model on a 2-core CPU; 64 measured slower there).
        progress: show a tqdm bar.
        desc: the bar's label.
        settled: optional ``f(answer_so_far) -> bool``, True once no continuation can change the answer's score
            (e.g. :func:`json_answer_settled`): that row stops there and leaves the batch. Its answer is the text
            up to that point. Default ``None``: every row runs to its end-of-turn.
        join: let waiting prompts join a running batch (continuous batching). ``False`` decodes static batches
            (a new batch starts when the last row of the previous one ends): the same answers, for comparison.

    Returns:
        One decoded answer per prompt, in the order given.
    """
    from tqdm.auto import tqdm

    if batch_size < 1 or max_new_tokens < 1:
        raise ValueError(f"batch_size ({batch_size}) and max_new_tokens ({max_new_tokens}) must be >= 1.")
    if tokenizer.pad_token_id is None:
        raise ValueError("The tokenizer has no pad token. Fix: tokenizer.pad_token = tokenizer.eos_token")
    texts = render_prompts(tokenizer, prompts)
    eos = _eos_ids(model, tokenizer)
    # add_special_tokens=False: the chat template already wrote them
    ids = [tokenizer(t, add_special_tokens=False)["input_ids"] for t in texts]
    order = sorted(range(len(ids)), key=lambda i: -len(ids[i]))  # longest first: OOM shows at once
    was_training = model.training
    model.eval()
    bar = tqdm(total=len(texts), desc=desc, disable=not progress, unit="ex")
    try:
        new = _greedy_stream(
            model,
            tokenizer,
            ids,
            order,
            batch_size=batch_size,
            max_new_tokens=max_new_tokens,
            eos=eos,
            settled=settled,
            join=join,
            on_done=lambda row: bar.update(1),
        )
    finally:
        bar.close()
        model.train(was_training)
    return [tokenizer.decode(tokens, skip_special_tokens=True).strip() for tokens in new]
