"""Loading, validation, cleaning, chat templating, label masking, splits and the padding collator."""

from __future__ import annotations

import html
import json
import os
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from helpers.env import course_path

#: The fields of the course's extraction record, in the order the answers are written.
EXTRACTION_FIELDS: tuple[str, ...] = ("customer", "product", "quantity", "city")
#: The system prompt of every extraction record (data/generate.py writes the same text).
EXTRACTION_SYSTEM_PROMPT = "Extract the order as JSON: customer, product, quantity, city (null if missing)."
#: The split files :func:`load_splits` reads.
SPLIT_NAMES: tuple[str, ...] = ("train", "validation", "test")
ROLES = ("system", "user", "assistant")
IGNORE_INDEX = -100
_ROLE_ALIASES = {
    "human": "user",
    "gpt": "assistant",
    "bot": "assistant",
    "model": "assistant",
    "ai": "assistant",
}


class DataError(ValueError):
    """A record that cannot be used; the message names the file, the line, the problem and the fix."""


# --------------------------------------------------------------------------------------------------
# Loading and validation
# --------------------------------------------------------------------------------------------------


def _fail(where: str, what: str, fix: str) -> DataError:
    return DataError(f"{where}: {what}\n  Fix: {fix}")


def _check_text(value: Any, where: str, field: str) -> str:
    if value is None:
        raise _fail(where, f"field '{field}' is missing", f"give '{field}' a non-empty string.")
    if not isinstance(value, str):
        raise _fail(
            where,
            f"field '{field}' must be a string, got {type(value).__name__} {json.dumps(value, ensure_ascii=False)[:60]}",
            f"write '{field}' as a JSON string (quote numbers, join lists into one text).",
        )
    if value == "":
        raise _fail(where, f"field '{field}' is empty", f"fill '{field}' or remove the record.")
    return value


def normalize_record(obj: Any, where: str = "record") -> dict:
    """Validate one record of any supported shape and return it as ``{"messages": [...], "meta"?: {...}}``.

    Shapes: chat ``{"messages": [{"role", "content"}, ...]}``, QA ``{"prompt", "response"}`` (optional
    ``"system"``), and Alpaca ``{"instruction", "input"?, "output"}``.

    Args:
        obj: the parsed JSON value.
        where: ``"file:line"`` used in error messages.

    Returns:
        The normalized record (a new dict); ``meta`` is kept when present.

    Raises:
        DataError: naming ``where``, what is wrong and how to fix it.
    """
    if not isinstance(obj, dict):
        raise _fail(
            where,
            f"expected a JSON object, got {type(obj).__name__}",
            'write one object per line, e.g. {"messages": [...]} or {"prompt": ..., "response": ...}.',
        )
    if "messages" in obj:
        raw = obj["messages"]
        if not isinstance(raw, list) or not raw:
            raise _fail(
                where, "field 'messages' is missing or empty", "give a non-empty list of {role, content}."
            )
        messages = []
        for i, msg in enumerate(raw):
            here = f"{where} (message {i})"
            if not isinstance(msg, dict):
                raise _fail(
                    here, f"a message must be an object, got {type(msg).__name__}", "use {role, content}."
                )
            role = msg.get("role")
            if role not in ROLES:
                hint = f" ('{role}' usually means '{_ROLE_ALIASES[role]}')" if role in _ROLE_ALIASES else ""
                raise _fail(here, f"unknown role {role!r}{hint}", f"use one of {', '.join(ROLES)}.")
            messages.append({"role": role, "content": _check_text(msg.get("content"), here, "content")})
        if messages[-1]["role"] != "assistant":
            raise _fail(
                where,
                f"the conversation ends with a '{messages[-1]['role']}' turn, so there is no answer to learn",
                "end every conversation with an assistant message (or drop the trailing turn).",
            )
        if not any(m["role"] == "user" for m in messages):
            raise _fail(
                where, "the conversation has no user turn", "add the user message the answer responds to."
            )
    elif "prompt" in obj or "response" in obj:
        messages = []
        if obj.get("system") is not None:
            messages.append({"role": "system", "content": _check_text(obj["system"], where, "system")})
        messages.append({"role": "user", "content": _check_text(obj.get("prompt"), where, "prompt")})
        messages.append({"role": "assistant", "content": _check_text(obj.get("response"), where, "response")})
    elif "instruction" in obj or "output" in obj:
        instruction = _check_text(obj.get("instruction"), where, "instruction")
        extra = obj.get("input") or ""
        if not isinstance(extra, str):
            raise _fail(where, f"field 'input' must be a string, got {type(extra).__name__}", "quote it.")
        user = f"{instruction}\n\n{extra}" if extra.strip() else instruction
        messages = [
            {"role": "user", "content": user},
            {"role": "assistant", "content": _check_text(obj.get("output"), where, "output")},
        ]
    else:
        keys = ", ".join(sorted(obj)) or "none"
        raise _fail(
            where,
            f"unknown record shape (keys: {keys})",
            "use 'messages', or 'prompt'+'response', or 'instruction'+'input'+'output'.",
        )
    out: dict[str, Any] = {"messages": messages}
    if isinstance(obj.get("meta"), dict):
        out["meta"] = obj["meta"]
    return out


def _line_of(text: str, pos: int) -> int:
    return text.count("\n", 0, pos) + 1


def load_records(path: str | os.PathLike) -> list[dict]:
    """Read a JSONL file (or a JSON array) of records and normalize each to ``{"messages": [...]}``.

    Args:
        path: a ``.jsonl`` file with one object per line, or a ``.json`` file holding a list of objects; a
            relative path that does not exist from the current folder is the course's own
            (:func:`helpers.env.course_path`: ``"data/samples/qa.jsonl"``).

    Returns:
        The normalized records, in file order.

    Raises:
        DataError: for invalid UTF-8, an empty file, bad JSON, or an invalid record; the message names
            the file and line and says how to fix it.
    """
    path = course_path(path)
    name = path.name
    data = path.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise _fail(
            f"{name}:{line}",
            f"invalid UTF-8 (byte {data[exc.start]:#04x} at offset {exc.start})",
            "re-save the file as UTF-8 (e.g. iconv -f GBK -t UTF-8, or open(..., encoding='utf-8') when writing).",
        ) from None
    text = text.removeprefix("\ufeff")  # a BOM is harmless: drop it
    if not text.strip():
        raise _fail(f"{name}:1", "the file is empty", "write at least one record (one JSON object per line).")
    records: list[dict] = []
    decoder = json.JSONDecoder()
    if text.lstrip().startswith("["):  # a JSON array: locate each element to report its line
        pos = text.index("[") + 1
        while True:
            while pos < len(text) and text[pos] in " \t\r\n,":
                pos += 1
            if pos >= len(text):
                raise _fail(
                    f"{name}:{_line_of(text, pos)}", "the JSON array is not closed", "add the final ']'."
                )
            if text[pos] == "]":
                break
            try:
                obj, end = decoder.raw_decode(text, pos)
            except json.JSONDecodeError as exc:
                raise _fail(
                    f"{name}:{exc.lineno}",
                    f"bad JSON ({exc.msg}, column {exc.colno})",
                    "fix the syntax there.",
                ) from None
            records.append(normalize_record(obj, f"{name}:{_line_of(text, pos)}"))
            pos = end
    else:
        for lineno, line in enumerate(text.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise _fail(
                    f"{name}:{lineno}",
                    f"bad JSON ({exc.msg}, column {exc.colno})",
                    "each line must be one complete JSON object; check quotes, commas and brackets.",
                ) from None
            records.append(normalize_record(obj, f"{name}:{lineno}"))
    if not records:
        raise _fail(f"{name}:1", "the JSON array is empty", "put at least one record in it.")
    return records


def load_splits(data_dir: str | os.PathLike = "data/extraction") -> dict[str, list[dict]]:
    """Load ``train.jsonl``, ``validation.jsonl`` and ``test.jsonl`` from ``data_dir``.

    Args:
        data_dir: a folder; a relative path that does not exist from the current folder is the course's
            own (:func:`helpers.env.course_path`), so ``"data/extraction"`` works from ``notebooks/``, from an
            installed wheel, and from an empty folder.

    Returns:
        ``{"train": [...], "validation": [...], "test": [...]}`` of normalized records.
    """
    folder = course_path(data_dir)
    if not folder.is_dir():
        raise FileNotFoundError(
            f"Data folder {str(data_dir)!r} not found (tried {Path(data_dir).expanduser().resolve()} and {folder}).\n"
            "Fix: pass a folder holding train.jsonl / validation.jsonl / test.jsonl (the course's is data/extraction)."
        )
    missing = [s for s in SPLIT_NAMES if not (folder / f"{s}.jsonl").is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} has no {', '.join(m + '.jsonl' for m in missing)}.\n"
            "Fix: pass the folder holding the splits, or regenerate them with `python data/generate.py`."
        )
    return {s: load_records(folder / f"{s}.jsonl") for s in SPLIT_NAMES}


def prompt_messages(record: dict | list[dict]) -> list[dict]:
    """The messages without the final assistant turn: what a model is given at generation time."""
    messages = record["messages"] if isinstance(record, dict) else record
    return (
        [dict(m) for m in messages[:-1]]
        if messages and messages[-1]["role"] == "assistant"
        else list(messages)
    )


def target_text(record: dict | list[dict]) -> str:
    """The final assistant message's content: the answer a model should produce."""
    messages = record["messages"] if isinstance(record, dict) else record
    if not messages or messages[-1]["role"] != "assistant":
        raise ValueError("the record does not end with an assistant turn, so it has no target")
    return messages[-1]["content"]


# --------------------------------------------------------------------------------------------------
# Cleaning
# --------------------------------------------------------------------------------------------------


def clean_records(
    records: list[dict],
    *,
    tokenizer: Any = None,
    max_length: int | None = None,
    max_chars: int | None = None,
) -> tuple[list[dict], dict]:
    """Strip whitespace, then drop empty, duplicate and over-long records, counting each reason.

    Args:
        records: normalized records (from :func:`load_records`).
        tokenizer: with ``max_length``, a record is over length when its rendered chat has more tokens.
        max_length: token limit (needs ``tokenizer``).
        max_chars: character limit over all message contents (a tokenizer-free alternative).

    Returns:
        ``(kept, report)``; ``report`` = ``{"total", "kept", "dropped": {reason: count},
        "dropped_index": {reason: [input positions]}}`` with reasons ``empty``, ``duplicate`` and
        ``over_length``. Nothing is dropped without being counted.
    """
    if max_length is not None and tokenizer is None:
        raise ValueError("max_length counts tokens, so clean_records needs tokenizer=...; or use max_chars.")
    kept: list[dict] = []
    seen: set[str] = set()
    dropped: dict[str, list[int]] = {"empty": [], "duplicate": [], "over_length": []}
    for i, rec in enumerate(records):
        messages = [{"role": m["role"], "content": m["content"].strip()} for m in rec["messages"]]
        if any(not m["content"] for m in messages):
            dropped["empty"].append(i)
            continue
        key = json.dumps(messages, ensure_ascii=False)
        if key in seen:
            dropped["duplicate"].append(i)
            continue
        if max_chars is not None and sum(len(m["content"]) for m in messages) > max_chars:
            dropped["over_length"].append(i)
            continue
        if max_length is not None and len(_render_ids(messages, tokenizer)) > max_length:
            dropped["over_length"].append(i)
            continue
        seen.add(key)
        kept.append({**rec, "messages": messages})
    report = {
        "total": len(records),
        "kept": len(kept),
        "dropped": {reason: len(ix) for reason, ix in dropped.items()},
        "dropped_index": dropped,
    }
    assert report["kept"] + sum(report["dropped"].values()) == report["total"]
    return kept, report


# --------------------------------------------------------------------------------------------------
# Chat template, tokens and the label mask
# --------------------------------------------------------------------------------------------------


def _messages_of(record_or_messages: dict | list[dict]) -> list[dict]:
    messages = record_or_messages["messages"] if isinstance(record_or_messages, dict) else record_or_messages
    if not messages:
        raise ValueError("no messages to tokenize")
    return messages


def _render(tokenizer: Any, messages: list[dict], *, add_generation_prompt: bool = False) -> str:
    if getattr(tokenizer, "chat_template", None) is None:
        raise ValueError(
            f"{type(tokenizer).__name__} has no chat_template. Fix: load an instruct/chat model's tokenizer or "
            "set tokenizer.chat_template (see helpers.models.CHATML_TEMPLATE)."
        )
    return tokenizer.apply_chat_template(
        messages, tokenize=False, add_generation_prompt=add_generation_prompt
    )


def _render_ids(messages: list[dict], tokenizer: Any) -> list[int]:
    return tokenizer(_render(tokenizer, messages), add_special_tokens=False)["input_ids"]


def assistant_char_spans(messages: list[dict], tokenizer: Any) -> tuple[str, list[tuple[int, int, bool]]]:
    """Render ``messages`` and find, in the text, each assistant turn's content plus its end-of-turn marker.

    Works for any chat template: the prefix up to each assistant turn is rendered with
    ``add_generation_prompt=True`` (where the answer starts) and the prefix through the turn without
    it (where the turn ends); the content is searched between the two. The span ends after the
    tokenizer's eos token when the turn's suffix contains it (``<|im_end|>``, ``<|eot_id|>``),
    otherwise right after the content (the first token after it is added by the caller).

    Returns:
        ``(text, spans)`` with ``spans`` as ``(start, end, closed)``: character offsets into ``text``
        and whether the span already includes the eos token.
    """
    text = _render(tokenizer, messages)
    spans = []
    eos = getattr(tokenizer, "eos_token", None)
    for i, msg in enumerate(messages):
        if msg["role"] != "assistant":
            continue
        before = _render(tokenizer, messages[:i], add_generation_prompt=True) if i else ""
        through = text if i == len(messages) - 1 else _render(tokenizer, messages[: i + 1])
        if not text.startswith(before) or not text.startswith(through):
            raise ValueError(
                "This chat template renders a conversation's prefix differently from the conversation "
                f"(assistant turn {i}), so turns cannot be located. Fix: mask with the template's "
                "{% generation %} markers (return_assistant_tokens_mask=True) or simplify the template."
            )
        content = msg["content"].strip()
        start = text.find(content, len(before), len(through))
        if start < 0:
            raise ValueError(
                f"assistant turn {i}'s content is not in the rendered text: the template rewrites it."
            )
        end = start + len(content)
        suffix = text[end : len(through)]
        closed = bool(eos) and eos in suffix
        if closed:
            end = end + suffix.index(eos) + len(eos)
        spans.append((start, end, closed))
    return text, spans


def tokenize_chat(
    record_or_messages: dict | list[dict], tokenizer: Any, max_length: int | None = None
) -> dict[str, list[int]]:
    """Render a chat with the tokenizer's template and tokenize it, with labels only on the answers.

    Args:
        record_or_messages: a record ``{"messages": [...]}`` or the message list itself.
        tokenizer: any tokenizer with a chat template (fast tokenizers use offsets; others fall back
            to tokenizing text prefixes).
        max_length: cut the sequence to this many tokens; only tokens after the last trained token may
            be cut.

    Returns:
        ``{"input_ids", "attention_mask", "labels"}`` as lists of ints; ``labels`` is -100 on every
        system and user token (and the template's headers) and equals ``input_ids`` on each assistant
        turn's content and its end-of-turn token.

    Raises:
        DataError: when ``max_length`` would cut into an answer (:func:`tokenize_records` drops such
            records and reports them instead).
    """
    messages = _messages_of(record_or_messages)
    text, spans = assistant_char_spans(messages, tokenizer)
    try:
        enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
        offsets = enc["offset_mapping"]
    except (NotImplementedError, TypeError, ValueError):  # slow tokenizers: diff the token counts of prefixes
        enc = tokenizer(text, add_special_tokens=False)
        bounds = sorted({p for s in spans for p in s[:2]})
        n_at = {p: len(tokenizer(text[:p], add_special_tokens=False)["input_ids"]) for p in bounds}
        offsets = None
    ids = list(enc["input_ids"])
    labels = [IGNORE_INDEX] * len(ids)
    for start, end, closed in spans:
        if offsets is not None:
            inside = [k for k, (a, b) in enumerate(offsets) if a < end and b > start and b > a]
        else:
            inside = list(range(n_at[start], n_at[end]))
        if inside and not closed and inside[-1] + 1 < len(ids):
            inside.append(inside[-1] + 1)  # no eos in the turn's suffix: its first token ends the turn
        for k in inside:
            labels[k] = ids[k]
    if max_length is not None and len(ids) > max_length:
        trained = [k for k, lab in enumerate(labels) if lab != IGNORE_INDEX]
        if trained and trained[-1] >= max_length:
            raise DataError(
                f"the answer would be truncated: the chat has {len(ids)} tokens and its last trained token is at "
                f"position {trained[-1]}, beyond max_length={max_length}. Fix: raise max_length, shorten the "
                "record, or use tokenize_records(), which drops and reports such records."
            )
        ids, labels = ids[:max_length], labels[:max_length]
    return {"input_ids": ids, "attention_mask": [1] * len(ids), "labels": labels}


def tokenize_records(
    records: list[dict], tokenizer: Any, max_length: int | None = None
) -> tuple[list[dict[str, list[int]]], dict]:
    """Tokenize many records with :func:`tokenize_chat`, dropping (and reporting) those whose answer would be cut.

    Returns:
        ``(features, report)``; ``report`` = ``{"total", "kept", "dropped": {"answer_truncated": n},
        "dropped_index": [...], "max_tokens": longest kept sequence}``.
    """
    features, dropped = [], []
    for i, rec in enumerate(records):
        try:
            features.append(tokenize_chat(rec, tokenizer, max_length))
        except DataError:
            dropped.append(i)
    report = {
        "total": len(records),
        "kept": len(features),
        "dropped": {"answer_truncated": len(dropped)},
        "dropped_index": dropped,
        "max_tokens": max((len(f["input_ids"]) for f in features), default=0),
    }
    return features, report


@dataclass
class ChatCollator:
    """Pad a batch of tokenized chats to its longest member (dynamic padding).

    ``input_ids`` are padded with the pad token, ``attention_mask`` with 0 and ``labels`` with -100.
    Labels are never derived from ``pad_token_id``, so a real end-of-turn token that shares its id
    with the pad token (as in SmolLM2) is still trained.

    Args:
        tokenizer: supplies ``pad_token_id`` (falls back to ``eos_token_id``).
        pad_to_multiple_of: round the padded length up (e.g. 8 for tensor cores).
        padding_side: ``"right"`` for training, ``"left"`` for batched generation.
        only_learned_logits: also return ``logits_to_keep`` (the positions whose next token is learned by some
            row: the model's output head then computes the vocabulary-sized logits only there) and
            ``shift_labels`` (the labels those positions predict, ``(batch, kept)``). The loss is the same as with
            every position's logits; the head's work shrinks to the kept share of the positions.
    """

    tokenizer: Any
    pad_to_multiple_of: int | None = None
    padding_side: str = "right"
    only_learned_logits: bool = False

    def __call__(self, features: list[dict]) -> dict:
        import torch

        pad_id = self.tokenizer.pad_token_id
        if pad_id is None:
            pad_id = self.tokenizer.eos_token_id
        if pad_id is None:
            raise ValueError(
                "The tokenizer has neither a pad nor an eos token. Fix: tokenizer.pad_token = ..."
            )
        longest = max(len(f["input_ids"]) for f in features)
        if self.pad_to_multiple_of:
            m = self.pad_to_multiple_of
            longest = (longest + m - 1) // m * m
        fills = {"input_ids": pad_id, "attention_mask": 0, "labels": IGNORE_INDEX}
        batch = {}
        for key, fill in fills.items():
            if key not in features[0]:
                continue
            rows = []
            for f in features:
                seq = list(f[key])
                if key == "attention_mask" and len(seq) != len(f["input_ids"]):
                    raise ValueError("attention_mask and input_ids differ in length")
                pad = [fill] * (longest - len(seq))
                rows.append(pad + seq if self.padding_side == "left" else seq + pad)
            batch[key] = torch.tensor(rows, dtype=torch.long)
        if "attention_mask" not in batch:  # build it from the lengths, never from the pad id
            rows = []
            for f in features:
                n = len(f["input_ids"])
                pad = [0] * (longest - n)
                rows.append(pad + [1] * n if self.padding_side == "left" else [1] * n + pad)
            batch["attention_mask"] = torch.tensor(rows, dtype=torch.long)
        if self.only_learned_logits and "labels" in batch:
            following = batch["labels"][:, 1:]  # (batch, seq - 1): the token each position predicts
            keep = (following != IGNORE_INDEX).any(dim=0).nonzero().flatten()  # (kept,) positions
            batch["logits_to_keep"] = keep  # the causal LMs of transformers accept a tensor of positions
            batch["shift_labels"] = following[:, keep]  # (batch, kept): the loss reads these, pre-shifted
        return batch


# --------------------------------------------------------------------------------------------------
# Views for the notebook
# --------------------------------------------------------------------------------------------------


def decode_labels(features: dict, tokenizer: Any) -> str:
    """Decode only the trained tokens (labels != -100): exactly what the model learns to produce."""
    return tokenizer.decode([t for t in features["labels"] if t != IGNORE_INDEX])


def label_mask_html(features: dict, tokenizer: Any) -> str:
    """HTML with every token as a span: trained tokens (label kept) in bold on green, masked ones (-100) plain on
    grey. The bold survives where styles are stripped (GitHub drops them), so the mask reads without colour too."""
    parts = []
    for tok_id, lab in zip(features["input_ids"], features["labels"], strict=True):
        piece = html.escape(tokenizer.decode([tok_id])).replace("\n", "↵<br>")
        if lab != IGNORE_INDEX:
            piece, style = f"<b>{piece}</b>", "background:#b7f0b1;color:#000"
        else:
            style = "background:#e6e6e6;color:#777"
        parts.append(f'<span style="{style};border:1px solid #fff;font-family:monospace">{piece}</span>')
    legend = (
        '<div style="margin-bottom:4px"><span style="background:#b7f0b1;color:#000"><b>bold: trained</b></span> '
        '<span style="background:#e6e6e6;color:#777">plain: masked (-100)</span></div>'
    )
    return legend + "<div style='line-height:1.8'>" + "".join(parts) + "</div>"


def token_lengths(records: list[dict], tokenizer: Any) -> list[int]:
    """The rendered chat length in tokens of each record."""
    return [len(_render_ids(_messages_of(r), tokenizer)) for r in records]


def split_stats(splits: dict[str, list[dict]]) -> dict[str, dict[str, Any]]:
    """Per split: record count, share of Chinese records and counts of the hard-case tags in ``meta``."""
    out = {}
    for name, recs in splits.items():
        langs = Counter(r.get("meta", {}).get("lang", "?") for r in recs)
        tags = Counter(t.split(":")[0] for r in recs for t in r.get("meta", {}).get("tags", []))
        out[name] = {
            "n": len(recs),
            "zh_share": round(langs["zh"] / max(len(recs), 1), 3),
            **dict(sorted(tags.items())),
        }
    return out
