"""Tests for helpers.data and the committed data sets (generator, splits, samples, broken files)."""

from __future__ import annotations

import importlib.util
import json
import re
from pathlib import Path

import pytest
import torch

from helpers import data as D
from helpers.env import DATA_DIR
from helpers.models import CHATML_TEMPLATE, embedded_model_path, tiny_tokenizer

EXTRACTION = DATA_DIR / "extraction"


def _generator():
    spec = importlib.util.spec_from_file_location("lora_lab_data_generate", DATA_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def splits() -> dict[str, list[dict]]:
    return D.load_splits(EXTRACTION)


# --- tokenizers under test: the embedded template, ChatML (Qwen-style), Llama-3, and a Gemma-style one
# whose end-of-turn marker is not the eos token ---------------------------------------------------------

GEMMA_TEMPLATE = (
    "{{ '<bos>' }}{% for message in messages %}"
    "{{ '<start_of_turn>' + message['role'] + '\n' + message['content'] + '<end_of_turn>\n' }}"
    "{% endfor %}{% if add_generation_prompt %}{{ '<start_of_turn>assistant\n' }}{% endif %}"
)


def _tokenizer(kind: str):
    from transformers import AutoTokenizer

    if kind == "embedded":
        return AutoTokenizer.from_pretrained(str(embedded_model_path(verbose=False)))
    if kind in ("qwen2", "llama"):
        return tiny_tokenizer(kind)
    tok = AutoTokenizer.from_pretrained(str(embedded_model_path(verbose=False)))
    tok.add_special_tokens(
        {"additional_special_tokens": ["<bos>", "<start_of_turn>", "<end_of_turn>", "<eos>"]}
    )
    tok.chat_template = GEMMA_TEMPLATE
    tok.eos_token = "<eos>"
    tok.pad_token = "<eos>"
    return tok


TEMPLATES = ["embedded", "qwen2", "llama", "gemma"]
END_OF_TURN = {
    "embedded": "<|im_end|>",
    "qwen2": "<|im_end|>",
    "llama": "<|eot_id|>",
    "gemma": "<end_of_turn>",
}


@pytest.fixture(scope="module", params=TEMPLATES)
def tok_kind(request):
    return request.param, _tokenizer(request.param)


SINGLE = [
    {"role": "system", "content": D.EXTRACTION_SYSTEM_PROMPT},
    {"role": "user", "content": "你好，我是王伟。要三台咖啡机，寄到上海。"},
    {
        "role": "assistant",
        "content": '{"customer": "王伟", "product": "咖啡机", "quantity": 3, "city": "上海"}',
    },
]
MULTI = [
    {"role": "system", "content": "Be brief."},
    {"role": "user", "content": "Do you ship to Toronto?"},
    {"role": "assistant", "content": "Yes, in 3-5 days."},
    {"role": "user", "content": "费用呢？"},
    {"role": "assistant", "content": "满50元包邮。"},
    {"role": "user", "content": "Thanks"},
    {"role": "assistant", "content": "You're welcome!"},
]


def _trained_runs(features: dict) -> list[list[int]]:
    """The label ids grouped into runs of consecutive trained positions (one run per assistant turn)."""
    runs, current = [], []
    for lab in features["labels"]:
        if lab != D.IGNORE_INDEX:
            current.append(lab)
        elif current:
            runs.append(current)
            current = []
    if current:
        runs.append(current)
    return runs


@pytest.mark.parametrize("messages", [SINGLE, MULTI], ids=["single", "multi"])
def test_labels_decode_to_exactly_the_assistant_turns(tok_kind, messages) -> None:
    kind, tok = tok_kind
    feats = D.tokenize_chat({"messages": messages}, tok)
    assert len(feats["input_ids"]) == len(feats["labels"]) == len(feats["attention_mask"])
    answers = [m["content"] for m in messages if m["role"] == "assistant"]
    runs = _trained_runs(feats)
    assert [tok.decode(r) for r in runs] == [a + END_OF_TURN[kind] for a in answers]
    # The trained ids are the input ids at the same positions (labels are not shifted by us).
    for ids, lab in zip(feats["input_ids"], feats["labels"], strict=True):
        assert lab in (D.IGNORE_INDEX, ids)
    # Everything else (system, user, headers) is masked: the masked text still holds every prompt.
    masked = tok.decode(
        [i for i, lab in zip(feats["input_ids"], feats["labels"], strict=True) if lab == -100]
    )
    for m in messages:
        if m["role"] != "assistant":
            assert m["content"] in masked
    # The end-of-turn token is trained although, for most templates, it is also the pad token.
    assert tok.convert_tokens_to_ids(END_OF_TURN[kind]) in feats["labels"]


def test_embedded_template_matches_chatml_in_labels() -> None:
    """The embedded template and helpers.models.CHATML_TEMPLATE render our data identically."""
    tok = _tokenizer("embedded")
    a = D.tokenize_chat(SINGLE, tok)
    tok.chat_template = CHATML_TEMPLATE
    assert D.tokenize_chat(SINGLE, tok) == a


def test_return_assistant_tokens_mask_needs_generation_markers() -> None:
    """Why we locate turns ourselves: templates without {% generation %} give an all-zero assistant mask."""
    tok = _tokenizer("qwen2")
    try:
        out = tok.apply_chat_template(
            SINGLE, tokenize=True, return_dict=True, return_assistant_tokens_mask=True
        )
    except ValueError:
        return  # refusing is also fine: either way it cannot be relied on
    assert sum(out["assistant_masks"]) == 0
    assert sum(lab != -100 for lab in D.tokenize_chat(SINGLE, tok)["labels"]) > 0


def test_truncation_never_cuts_an_answer_silently() -> None:
    tok = _tokenizer("embedded")
    full = D.tokenize_chat(SINGLE, tok)
    n = len(full["input_ids"])
    with pytest.raises(D.DataError, match="truncated"):
        D.tokenize_chat(SINGLE, tok, max_length=n - 5)
    # Cutting only the trailing newline after <|im_end|> is harmless and allowed.
    assert D.tokenize_chat(SINGLE, tok, max_length=n - 1)["labels"] == full["labels"][: n - 1]
    long = {"messages": [{"role": "user", "content": "word " * 300}, {"role": "assistant", "content": "ok"}]}
    feats, report = D.tokenize_records([{"messages": SINGLE}, long], tok, max_length=n)
    assert len(feats) == 1 and report["dropped"] == {"answer_truncated": 1} and report["dropped_index"] == [1]


def test_collator_pads_dynamically_and_keeps_the_real_eos() -> None:
    tok = _tokenizer("embedded")
    assert tok.pad_token_id == tok.eos_token_id  # the trap this test guards against
    a, b = D.tokenize_chat(SINGLE, tok), D.tokenize_chat(MULTI, tok)
    batch = D.ChatCollator(tok)([a, b])
    longest = max(len(a["input_ids"]), len(b["input_ids"]))
    assert batch["input_ids"].shape == batch["labels"].shape == (2, longest)
    short = 0 if len(a["input_ids"]) < longest else 1
    n = len([a, b][short]["input_ids"])
    assert batch["attention_mask"][short, n:].sum() == 0 and batch["attention_mask"][short, :n].all()
    assert (batch["labels"][short, n:] == -100).all()
    assert (batch["input_ids"][short, n:] == tok.pad_token_id).all()
    # Every trained eos survives padding: same count as before collation.
    for row, f in enumerate([a, b]):
        assert (batch["labels"][row] == tok.eos_token_id).sum() == f["labels"].count(tok.eos_token_id) > 0
    padded = D.ChatCollator(tok, pad_to_multiple_of=16)([a, b])
    assert padded["input_ids"].shape[1] % 16 == 0 and padded["input_ids"].shape[1] >= longest
    left = D.ChatCollator(tok, padding_side="left")([a, b])
    assert left["attention_mask"][short, : longest - n].sum() == 0
    assert torch.equal(left["labels"][short, longest - n :], torch.tensor([a, b][short]["labels"]))


# --- loading, validation and cleaning ----------------------------------------------------------------

EXPECTED_BROKEN = {
    "bad_json.jsonl": (3, "bad JSON"),
    "missing_field.jsonl": (2, "'response' is missing"),
    "empty_content.jsonl": (4, "'content' is empty"),
    "unknown_role.jsonl": (2, "unknown role 'human'"),
    "ends_with_user.jsonl": (3, "ends with a 'user' turn"),
    "non_string_content.jsonl": (2, "must be a string"),
    "invalid_utf8.jsonl": (2, "invalid UTF-8"),
    "empty.jsonl": (1, "empty"),
    "bad_array.json": (3, "'response' is missing"),
}


def test_every_broken_file_is_listed() -> None:
    assert sorted(p.name for p in (DATA_DIR / "broken").iterdir()) == sorted(EXPECTED_BROKEN)


@pytest.mark.parametrize("name", sorted(EXPECTED_BROKEN))
def test_broken_files_raise_data_error_with_file_and_line(name: str) -> None:
    line, what = EXPECTED_BROKEN[name]
    with pytest.raises(D.DataError) as info:
        D.load_records(DATA_DIR / "broken" / name)
    message = str(info.value)
    assert message.startswith(f"{name}:{line}"), message
    assert what in message and "Fix:" in message
    assert isinstance(info.value, ValueError)


def test_three_shapes_normalize_to_messages() -> None:
    qa = D.load_records(DATA_DIR / "samples" / "qa.jsonl")
    assert qa[0]["messages"] == [
        {"role": "user", "content": "问题:如何微调大模型?"},
        {"role": "assistant", "content": "回答:可以用LoRA等方法微调。"},
    ]
    assert any(r["messages"][0]["role"] == "system" for r in qa)
    alpaca = D.load_records(DATA_DIR / "samples" / "alpaca.jsonl")
    assert (
        alpaca[0]["messages"][0]["content"]
        == "Translate to Chinese.\n\nFine-tuning adapts a model to a task."
    )
    assert all(len(r["messages"]) == 2 for r in alpaca)
    multi = D.load_records(DATA_DIR / "samples" / "multiturn.jsonl")
    assert all(r["messages"][0]["role"] == "system" and len(r["messages"]) >= 5 for r in multi)


def test_json_array_files_load(tmp_path: Path) -> None:
    path = tmp_path / "records.json"
    path.write_text(json.dumps([{"prompt": "a", "response": "b"}, {"instruction": "c", "output": "d"}]))
    assert [r["messages"][-1]["content"] for r in D.load_records(path)] == ["b", "d"]


def test_clean_records_counts_every_drop() -> None:
    records = D.load_records(DATA_DIR / "samples" / "messy.jsonl")
    kept, report = D.clean_records(records, max_chars=1000)
    assert report["dropped"] == {"empty": 1, "duplicate": 2, "over_length": 1}
    assert report["kept"] == len(kept) == 4 and report["total"] == len(records)
    assert all(m["content"] == m["content"].strip() for r in kept for m in r["messages"])
    tok = _tokenizer("embedded")
    _, by_tokens = D.clean_records(records, tokenizer=tok, max_length=256)
    assert by_tokens["dropped"]["over_length"] == 1
    with pytest.raises(ValueError, match="tokenizer"):
        D.clean_records(records, max_length=10)


# --- the committed extraction data -------------------------------------------------------------------


def test_generator_is_deterministic_and_matches_committed_files() -> None:
    gen = _generator()
    first, second = gen.generate(0), gen.generate(0)
    assert first == second
    for split, text in first.items():
        assert (EXTRACTION / f"{split}.jsonl").read_bytes() == text.encode("utf-8"), (
            f"{split}.jsonl is stale: rerun python data/generate.py"
        )
    assert gen.generate(1)["train"] != first["train"]
    assert gen.FIELDS == D.EXTRACTION_FIELDS and gen.SYSTEM_PROMPT == D.EXTRACTION_SYSTEM_PROMPT


def test_splits_follow_the_data_contract(splits) -> None:
    assert len(splits["train"]) >= 2000 and len(splits["validation"]) >= 200 and len(splits["test"]) >= 200
    for name, records in splits.items():
        zh = sum(r["meta"]["lang"] == "zh" for r in records) / len(records)
        # the training mix holds more Chinese (data/README.md); validation and test keep 30 %
        assert (0.5 <= zh <= 0.6) if name == "train" else (0.25 <= zh <= 0.35), (name, zh)
        tags = {t.split(":")[0] for r in records for t in r["meta"]["tags"]}
        assert {"missing", "correction", "number_words"} <= tags, (name, tags)
        for r in records:
            roles = [m["role"] for m in r["messages"]]
            assert roles == ["system", "user", "assistant"]
            assert r["messages"][0]["content"] == D.EXTRACTION_SYSTEM_PROMPT
            answer = D.target_text(r)
            record = json.loads(answer)
            assert tuple(record) == D.EXTRACTION_FIELDS
            assert answer == json.dumps(record, ensure_ascii=False)  # fixed order, real characters
            assert record["quantity"] is None or isinstance(record["quantity"], int)
            assert D.prompt_messages(r) == r["messages"][:2]


def test_test_split_customers_and_messages_never_seen_in_training(splits) -> None:
    def values(records, field):
        return {json.loads(D.target_text(r))[field] for r in records} - {None}

    train = values(splits["train"], "customer")
    assert not train & values(splits["test"], "customer") and not train & values(
        splits["validation"], "customer"
    )
    train_msgs = {r["messages"][1]["content"] for r in splits["train"]}
    assert not train_msgs & {r["messages"][1]["content"] for r in splits["test"]}
    # products and cities are the shop's closed catalog, shared on purpose (data/README.md): check it is used
    # (case folded: a lower-case message keeps its values in lower case, which the scorer folds)
    folded = {split: {v.casefold() for v in values(splits[split], "city")} for split in ("train", "test")}
    assert folded["test"] <= folded["train"]


def test_test_phrasings_never_seen_in_training() -> None:
    """Every wording pool, English and Chinese, is cut: test wordings are new in both languages."""
    gen = _generator()
    train, validation, test = gen.Pools("train"), gen.Pools("validation"), gen.Pools("test")
    for lang, table in (("en", gen.EN), ("zh", gen.ZH)):
        for key in table:
            held_out, seen = set(getattr(test, lang)[key]), set(getattr(train, lang)[key])
            assert held_out and getattr(validation, lang)[key], (lang, key, "a split got no wording")
            assert not (seen & held_out) - {""}, (lang, key)
        # families (sentence structures) are cut one by one: training sees every structure the test uses
        for key, families in ((k, v) for k, v in table.items() if isinstance(v, dict)):
            for family, templates in families.items():
                for split in (train, validation, test):
                    assert set(templates) & set(getattr(split, lang)[key]), (lang, key, family)
    assert not set(train.en_first) & set(test.en_first) and not set(train.zh_given) & set(test.zh_given)
    assert not set(train.zh_foreign_first) & set(test.zh_foreign_first)
    # names are cut from a shuffle: the lists run from common to rare, and their tail alone would be the rarest names
    for names, held_out in (
        (gen.EN_FIRST, test.en_first),
        (gen.EN_LAST, test.en_last),
        (gen.ZH_GIVEN, test.zh_given),
    ):
        assert set(held_out) != set(names[-len(held_out) :]), (
            "the test split got only the tail of a name list"
        )


def test_english_counting_keeps_the_catalogue_name() -> None:
    gen = _generator()
    assert gen.en_counted("yoga mat", 3, "3") == "3 yoga mats"
    assert gen.en_counted("yoga mat", 1, "1") == "a yoga mat"
    assert gen.en_counted("umbrella", 1, "1") == "an umbrella"
    assert gen.en_counted("USB-C cable", 1, "1") == "a USB-C cable"
    assert gen.en_counted("running shoes", 2, "two") == "two pairs of running shoes"
    assert gen.en_counted("wireless mouse", 4, "4") == "4 wireless mice"
    assert gen.en_counted("dog leash", 2, "2") == "2 dog leashes"
    assert gen.en_counted("printer paper", 5, "5") == "5 packs of printer paper"


def test_messages_come_in_every_style_and_hard_case(splits) -> None:
    for name, records in splits.items():
        for lang in ("en", "zh"):
            tags = {t for r in records if r["meta"]["lang"] == lang for t in r["meta"]["tags"]}
            wanted = {
                "style:plain",
                "style:email",
                "style:chat",
                "style:form",
                "on_behalf",
                "silent",
                "extra",
            }
            wanted |= {"inflected", "lowercase"} if lang == "en" else {"name:compound", "name:foreign"}
            assert wanted <= tags, (name, lang, wanted - tags)
    inflected = [r for r in splits["train"] if "inflected" in r["meta"]["tags"]]
    # the message inflects the product ("3 yoga mats"); the record keeps the catalogue name ("yoga mat")
    assert (
        sum(json.loads(D.target_text(r))["product"] + "s" in r["messages"][1]["content"] for r in inflected)
        > 100
    )


HANDWRITTEN = EXTRACTION / "handwritten.jsonl"


def test_handwritten_set_follows_the_contract() -> None:
    gen = _generator()
    records = D.load_records(HANDWRITTEN)
    assert len(records) >= 60
    assert sum(r["meta"]["lang"] == "zh" for r in records) / len(records) >= 0.4
    catalogue = {
        "en": ({*gen.EN_PRODUCTS}, {*gen.EN_CITIES}),
        "zh": ({p for p, _ in gen.ZH_PRODUCTS}, {*gen.ZH_CITIES}),
    }
    for r in records:
        answer = D.target_text(r)
        record = json.loads(answer)
        assert tuple(record) == D.EXTRACTION_FIELDS and answer == json.dumps(record, ensure_ascii=False)
        assert r["messages"][0]["content"] == D.EXTRACTION_SYSTEM_PROMPT
        products, cities = catalogue[r["meta"]["lang"]]
        assert record["product"] in products, (r["meta"]["id"], record)
        assert record["city"] is None or record["city"] in cities, (r["meta"]["id"], record)
        assert record["quantity"] is None or type(record["quantity"]) is int, (r["meta"]["id"], record)


def test_handwritten_set_is_apart_from_the_generator(monkeypatch) -> None:
    """The generator never reads the hand-written set, and never writes one of its messages."""
    handwritten = {r["messages"][1]["content"] for r in D.load_records(HANDWRITTEN)}
    import builtins
    import io
    import pathlib

    def guard(real):
        def guarded(file, *args, **kwargs):
            assert "handwritten" not in str(file), "the generator read the hand-written set"
            return real(file, *args, **kwargs)

        return guarded

    monkeypatch.setattr(builtins, "open", guard(builtins.open))
    monkeypatch.setattr(io, "open", guard(io.open))
    monkeypatch.setattr(pathlib.Path, "open", guard(pathlib.Path.open))
    files = _generator().generate(0)
    monkeypatch.undo()
    generated = {
        json.loads(line)["messages"][1]["content"] for text in files.values() for line in text.splitlines()
    }
    assert len(generated) == sum(gen_n for gen_n in _generator().SPLITS.values())
    assert not generated & handwritten


def test_english_test_messages_use_only_test_phrasings(splits) -> None:
    import re

    gen = _generator()
    train = gen.Pools("train")

    def pattern(
        template,
    ):  # "Ship to {city}." -> r"Ship to [^.,;:!?]+?\." (the wording, any value, any case),
        # as a clause of its own: at the start of the message or after a punctuation mark
        wording = re.sub(r"\\\{\w+\\\}", "[^.,;:!?\n]+?", re.escape(template))
        return re.compile(r"(?:^|[.,;:!?\n-]\s*)" + wording, re.IGNORECASE)

    def words(template):  # the template's own words, without its slots
        return re.findall(r"[A-Za-z']+", re.sub(r"\{\w+\}", "", template))

    # wordings with enough words of their own (three or more) not to occur inside other text by chance
    train_wordings = [
        pattern(p)
        for key, pool in train.en.items()
        if not key.startswith("label_")
        for p in pool
        if len(words(p)) >= 3
    ]
    for r in splits["test"]:
        if r["meta"]["lang"] == "en":
            msg = r["messages"][1]["content"]
            assert not [p.pattern for p in train_wordings if p.search(msg)], msg


def test_hard_cases_are_labelled_correctly(splits) -> None:
    for r in splits["train"][:500]:
        rec = json.loads(D.target_text(r))
        for tag in r["meta"]["tags"]:
            if tag.startswith("missing:"):
                assert rec[tag.split(":")[1]] is None
        if "correction:quantity" in r["meta"]["tags"] and "number_words" not in r["meta"]["tags"]:
            numbers = [int(t) for t in __import__("re").findall(r"\d+", r["messages"][1]["content"])]
            assert rec["quantity"] in numbers and len(set(numbers)) >= 2


def test_split_stats(splits) -> None:
    stats = D.split_stats(splits)
    assert stats["train"]["n"] == len(splits["train"]) and stats["test"]["zh_share"] == pytest.approx(
        0.3, abs=0.05
    )


def test_load_splits_resolves_from_the_repo_root_and_names_a_missing_folder(tmp_path, monkeypatch) -> None:
    """The one data-folder resolver: a relative path is tried from the cwd, then from the repository root."""
    monkeypatch.chdir(tmp_path)  # "data/extraction" does not exist here
    assert set(D.load_splits("data/extraction")) == {"train", "validation", "test"}
    with pytest.raises(FileNotFoundError, match=r"'no/such/folder' not found \(tried .*\n.*data/extraction"):
        D.load_splits("no/such/folder")
    (tmp_path / "empty").mkdir()
    with pytest.raises(FileNotFoundError, match="has no train.jsonl"):
        D.load_splits(tmp_path / "empty")


@pytest.mark.parametrize("arch", ["qwen2", "llama"])
def test_only_learned_logits_gives_the_loss_and_gradients_of_every_position(arch: str) -> None:
    """ChatCollator(only_learned_logits=True): the head computes logits only where a label is learned (a few of the
    positions), yet the loss and every LoRA gradient equal those of the full-logits batch."""
    import torch
    from peft import LoraConfig, get_peft_model

    from helpers.models import tiny_model

    model, tok = tiny_model(arch, seed=0)
    model = get_peft_model(
        model, LoraConfig(r=4, lora_alpha=8, target_modules="all-linear", init_lora_weights=False)
    )
    recs = [
        {
            "messages": [
                {"role": "user", "content": "one " * n},
                {"role": "assistant", "content": "two " * (n % 5 + 1)},
            ]
        }
        for n in (3, 9, 14)
    ]
    feats = [D.tokenize_chat(r, tok, 256) for r in recs]
    results = []
    for only in (False, True):
        batch = D.ChatCollator(tok, only_learned_logits=only)(feats)
        model.zero_grad()
        out = model(**batch)
        out.loss.backward()
        grads = torch.cat([p.grad.flatten() for p in model.parameters() if p.requires_grad])
        results.append((out.loss.detach(), grads, out.logits.shape[1], batch))
    (loss_all, g_all, n_all, _), (loss_kept, g_kept, n_kept, kept) = results
    learned_next = (kept["labels"][:, 1:] != D.IGNORE_INDEX).any(0)
    assert n_kept == int(learned_next.sum()) < n_all  # logits only at positions that predict a learned token
    assert torch.equal(kept["shift_labels"], kept["labels"][:, 1:][:, kept["logits_to_keep"]])
    torch.testing.assert_close(loss_kept, loss_all, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(g_kept, g_all, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("kind", ["embedded", "qwen2"])
def test_notebook_01_single_turn_mask_agrees_with_tokenize_chat(kind: str, splits) -> None:
    """Notebook 01 writes the single-turn label mask out in a few lines; D.tokenize_chat (any template, many turns) is
    what the course trains with: the same ids and labels under ChatML, on English and Chinese records."""
    from tests.cells import run_cell

    lesson = run_cell("01_data_preparation.ipynb", "single_turn_features")["single_turn_features"]
    tok = _tokenizer(kind)
    records = splits["train"][:40] + [r for r in splits["train"] if r["meta"]["lang"] == "zh"][:20]
    for record in records:
        assert lesson(record, tok) == D.tokenize_chat(record, tok), record["messages"][-1]["content"]
    labels = lesson(records[0], tok)["labels"]  # not vacuous: the answer is trained, the prompt masked
    assert labels[0] == -100 and any(label != -100 for label in labels)


def test_notebook_01_single_turn_mask_refuses_a_template_whose_prompt_tokens_merge(splits) -> None:
    """Under a Llama-3-style header ("...<|end_header_id|>\n\n"), this vocabulary merges the header's newlines with
    the answer's first character, so the prompt's tokens are no prefix of the chat's: the lesson's function must say
    so rather than mask one token off; D.tokenize_chat, which works on character offsets, still masks right."""
    from tests.cells import run_cell

    lesson = run_cell("01_data_preparation.ipynb", "single_turn_features")["single_turn_features"]
    tok = _tokenizer("llama")
    with pytest.raises(ValueError, match="tokenize_chat"):
        lesson(splits["train"][0], tok)
    assert D.decode_labels(D.tokenize_chat(splits["train"][0], tok), tok).startswith("{")


def test_label_mask_html_marks_trained_tokens_without_colour() -> None:
    """Bold marks the trained tokens, so the mask still reads where styles are stripped (GitHub)."""

    class Pieces:
        def decode(self, ids):
            return "".join(f"t{i}" for i in ids)

    html = D.label_mask_html({"input_ids": [1, 2, 3], "labels": [-100, 2, 3]}, Pieces())
    bare = re.sub(r'\s*style="[^"]*"', "", html)
    assert "<span>t1</span>" in bare and "<span><b>t2</b></span>" in bare and "<span><b>t3</b></span>" in bare
