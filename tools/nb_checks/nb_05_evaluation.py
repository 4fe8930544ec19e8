"""Checks on what notebook 05 records: scores, their Wilson intervals, the validation error analysis, the 十
pattern count and the few-shot baseline. Each check recomputes what it can from the recorded counts or the data, so a
notebook that scores the wrong subset, passes the wrong n to an interval, or miscounts a pattern fails here."""

from __future__ import annotations

import json
import math
import re

from helpers import data
from helpers.env import ROOT
from helpers.evaluate import wilson_interval

ZH_DIGITS = "零一二三四五六七八九"
#: What the default run must reach (make run fails below it). The test split and the hand-written set are worded
#: with phrasings never seen in training, in both languages (data/README.md); on them the embedded 135M model's
#: default run (300 steps) measured 0.81 and 0.79 in December 2026. Issue 14 asks for 0.90 on both, which this
#: model does not reach at this budget: these floors catch a regression below what it does reach, with room for
#: another machine's rounding; they are not the issue's targets.
TUNED_TEST_FLOOR = 0.75
TUNED_HANDWRITTEN_FLOOR = 0.65
BASE_CEILING = 0.15


def _ci_ok(label: str, s: dict) -> None:
    """``s`` = {"k", "n", "exact_match", "ci"}: the rate is k / n and the interval is Wilson's for k of n."""
    k, n, (low, high) = s["k"], s["n"], s["ci"]
    assert 0 <= k <= n and n >= 1, (label, s)
    assert math.isclose(s["exact_match"], k / n), (label, s)
    assert 0.0 <= low <= s["exact_match"] <= high <= 1.0, (label, s)  # the interval holds its point estimate
    wilson = wilson_interval(k, n)
    assert all(math.isclose(a, b, abs_tol=1e-9) for a, b in zip((low, high), wilson, strict=True)), (label, s)
    assert high - low > 0, (label, "an interval on a sample never has zero width", s)


def _width(ci: list[float]) -> float:
    return ci[1] - ci[0]


def _quantity_with_ten(record: dict) -> bool:
    """An independent copy of the notebook's detector: the gold quantity is written as a Chinese number with 十."""
    q = json.loads(data.target_text(record))["quantity"]
    if not isinstance(q, int) or not 10 <= q <= 99:
        return False
    tens, ones = divmod(q, 10)
    word = ("" if tens == 1 else ZH_DIGITS[tens]) + "十" + (ZH_DIGITS[ones] if ones else "")
    text = record["messages"][-2]["content"]
    return re.search(f"(?<![{ZH_DIGITS}十]){word}(?![{ZH_DIGITS}十])", text) is not None


def check(results: dict) -> None:
    smoke = results["smoke"]
    n = results["n"]
    # the tuned model is scored as a merged copy exactly when that copy gave the adapter's answers on every
    # validation example; in the default run it must. How much faster it is, is printed and recorded, not checked:
    # timings belong to benchmarks/bench.py, which measures it side by side (generate.merged)
    assert 0 <= results["merged_same"] <= results["merged_of"], results
    assert results["scored_merged"] == (results["merged_same"] == results["merged_of"]), results
    # fp32 on a CPU gives the same argmax whatever the batch or the merge; a GPU's kernels (and bf16 weights) may
    # flip a near-tie, so there the merged copy may differ on a few answers and is then not the one scored
    cpu = results.get("device", "cpu") == "cpu"  # renders before the device was recorded all ran on a CPU
    if not smoke and cpu:
        assert results["scored_merged"], ("the merged copy answered differently", results["merged_same"])
    # section 2.4: stopping settled answers early cuts text, never a score (its seconds are printed, not checked:
    # timings belong to benchmarks/bench.py, which measures the same thing side by side as generate.base_settled)
    demo = results["settled_demo"]
    assert demo["n"] == (2 if smoke else 16) and demo["prefixes"] and demo["same_scores"], demo
    assert demo["chars"][1] <= demo["chars"][0], demo
    if not smoke:  # the base model's answers really were cut
        assert demo["chars"][1] < demo["chars"][0], demo
    # smoke scores a subset; the default run the whole test split
    assert n == (8 if smoke else len(data.load_splits(ROOT / "data" / "extraction")["test"])), n
    for key in ["base_json_valid", "tuned_json_valid", "base_exact_match", "tuned_exact_match"]:
        assert abs(results[key] * n - round(results[key] * n)) < 1e-6, (key, "is no k of n", results[key])
    for model in ("base", "tuned"):
        fields = results[f"{model}_field_exact"]
        assert set(fields) == {"customer", "product", "quantity", "city"}, fields
        # every exact record has every field right, and only a valid answer can be exact
        assert results[f"{model}_exact_match"] <= min(fields.values()) + 1e-9, (model, fields)
        assert results[f"{model}_exact_match"] <= results[f"{model}_json_valid"] + 1e-9
        for v in fields.values():  # fractions of n examples
            assert abs(v * n - round(v * n)) < 1e-6, (model, fields)

    # --- the test split's intervals, overall and per language ------------------------------------------------------
    k = {m: round(results[f"{m}_exact_match"] * n) for m in ("base", "tuned")}
    for model in ("base", "tuned"):
        _ci_ok(f"{model} test", {"k": k[model], "n": n, "exact_match": results[f"{model}_exact_match"],
                                 "ci": results[f"{model}_exact_match_ci"]})  # fmt: skip
    by_lang = results["exact_match_by_lang"]
    assert set(by_lang) == {"en", "zh"}, by_lang
    for model in ("base", "tuned"):
        assert sum(v[model]["n"] for v in by_lang.values()) == n, "the languages must partition the split"
        assert sum(v[model]["k"] for v in by_lang.values()) == k[model], (model, "per-language counts")
        for lang, v in by_lang.items():
            _ci_ok(f"{lang} {model}", v[model])
    test = data.load_splits(ROOT / "data" / "extraction")["test"][:n]
    assert by_lang["zh"]["tuned"]["n"] == sum(r["meta"]["lang"] == "zh" for r in test)

    # --- the validation error analysis -------------------------------------------------------------------------------
    va = results["val_error_analysis"]
    n_val = 4 if smoke else 64
    assert va["n"] == n_val and va["n_by_lang"] == {"en": n_val // 2, "zh": n_val // 2}, va
    assert va["failed"] == sum(s["n"] - s["k"] for s in va["by_lang"].values()), va
    for lang, s in va["by_lang"].items():
        _ci_ok(f"validation {lang}", s)
    k_val = n_val - va["failed"]
    _ci_ok(
        "validation subset",
        {"k": k_val, "n": n_val, "exact_match": k_val / n_val, "ci": va["exact_match_ci"]},
    )
    # a language scored on half the examples has a wider interval than the whole subset at the same rate
    for s in va["by_lang"].values():
        assert _width(wilson_interval(s["k"], s["n"])) > _width(wilson_interval(2 * s["k"], 2 * s["n"]))
    assert va["by_tag"] and all(g["failed"] <= g["n"] for g in va["by_tag"].values()), va["by_tag"]
    ten = va["ten"]
    assert ten["examples"] == n_val and ten["failures"] == va["failed"], ten
    assert 0 <= ten["ten_failures"] <= min(ten["failures"], ten["ten_messages"]), ten
    probe = va["ten_probe"]
    validation = data.load_splits(ROOT / "data" / "extraction")["validation"]
    n_ten = sum(map(_quantity_with_ten, validation))
    assert n_ten >= 1, "the validation split holds no quantity written with 十: the detector is broken"
    assert probe["ten"]["n"] == (min(1, n_ten) if smoke else n_ten), (probe, n_ten)
    assert 0 <= probe["ten"]["failed"] <= probe["ten"]["n"], probe
    # every Chinese message of the subset is either a 十 message or one of the others
    assert probe["other_zh"]["n"] == n_val // 2 - ten["ten_messages"], (probe, ten)
    # outside smoke the probe holds every 十 message of the subset, with the same answers
    assert smoke or ten["ten_failures"] <= probe["ten"]["failed"], (ten, probe)
    assert 0 <= probe["ten"]["quantity_wrong"] <= probe["ten"]["failed"], probe

    # the summary's "why Chinese lags": this tokenizer spends several times more tokens on a Chinese character
    tpc = results["tokens_per_char"]
    assert tpc["zh"] > 3 * tpc["en"] > 0, tpc
    # failed fields per language add up to the field tally of the whole split
    by_field = results["test_failures_by_field"]
    for field, exact in results["tuned_field_exact"].items():
        failed = sum(
            by_field[lang].get(key, {"failed": 0})["failed"]
            for lang in by_field
            for key in (field, "<invalid json>")
        )
        assert failed == round(n * (1 - exact)), (field, failed, exact)

    # --- the 十 pattern on the test split ----------------------------------------------------------------------------
    tp = results["ten_pattern_failures"]
    assert tp["examples"] == n and tp["failures"] == n - k["tuned"], tp
    assert tp["ten_messages"] == sum(map(_quantity_with_ten, test)), (tp, "the detector miscounts")
    assert 0 <= tp["ten_failures"] <= min(tp["failures"], tp["ten_messages"]), tp
    assert 0 <= tp["ten_quantity_wrong"] <= tp["ten_failures"], tp
    # a failed 十 record is counted as a quantity error at most as often as the field tally counts quantity errors
    assert tp["ten_quantity_wrong"] <= round(results["n"] * (1 - results["tuned_field_exact"]["quantity"])), (
        tp
    )

    # --- the few-shot baseline ---------------------------------------------------------------------------------
    fs = results["fewshot"]
    assert fs["n"] == (2 if smoke else 32) and fs["n_shots"] == 3, fs
    for name in ("zero_shot_base", "few_shot_base", "tuned"):
        assert fs[name]["n"] == fs["n"], (name, fs[name])
        _ci_ok(f"few-shot subset {name}", fs[name])
        assert fs[name]["exact_match"] <= fs[name]["json_valid"] + 1e-9, (name, fs[name])
    # the subset is part of the scored test split: its exact counts cannot exceed the whole split's
    assert fs["zero_shot_base"]["k"] <= k["base"] and fs["tuned"]["k"] <= k["tuned"], fs
    assert fs["tuned"]["k"] >= k["tuned"] - (n - fs["n"]), fs  # it misses at most what it leaves out

    # --- the hand-written set, scored like the test split ------------------------------------------------------------
    hw = results["handwritten"]
    written = data.load_records(ROOT / "data" / "extraction" / "handwritten.jsonl")
    assert hw["n"] == (4 if smoke else len(written)), hw["n"]
    hw_langs = [r["meta"]["lang"] for r in written[: hw["n"]]]
    assert hw["n_by_lang"] == {lang: hw_langs.count(lang) for lang in set(hw_langs)}, hw["n_by_lang"]
    for model in ("base", "tuned"):
        _ci_ok(f"hand-written {model}", hw[model]["all"])
        assert hw[model]["all"]["n"] == hw["n"], (model, hw[model])
        parts = {lang: s for lang, s in hw[model].items() if lang != "all"}
        assert set(parts) == set(hw["n_by_lang"]), (model, "every language scored", parts)
        for lang, s in parts.items():
            _ci_ok(f"hand-written {model} {lang}", s)
            assert s["n"] == hw["n_by_lang"][lang], (model, lang, s)
        assert sum(s["k"] for s in parts.values()) == hw[model]["all"]["k"], (model, "per-language counts")
        prefix = "" if model == "tuned" else "base_"
        assert results[f"{prefix}handwritten_exact_match"] == hw[model]["all"]["exact_match"]
        for lang in ("en", "zh"):
            assert results[f"{prefix}handwritten_exact_match_{lang}"] == parts[lang]["exact_match"], (
                model,
                lang,
            )
    failed = hw["tuned"]["all"]["n"] - hw["tuned"]["all"]["k"]
    assert all(g["failed"] <= min(g["n"], failed) for g in hw["by_tag"].values()), hw["by_tag"]

    # --- the lm_eval example loads the adapter onto the base it was trained on (the dequantized local folder) ---------
    assert results["lm_eval_same_base"] is True, (
        "the lm_eval command would load the adapter onto another base"
    )

    # --- losses, timings -----------------------------------------------------------------------------------------
    # make run executes 04 first: a default run scores 04's adapter, never a quick rebuild
    assert smoke or results["adapter_rebuilt"] is False, results["adapter_rebuilt"]
    for key in ("base_val_loss", "tuned_val_loss", "tuned_train_loss"):
        assert math.isfinite(results[key]) and results[key] > 0, (key, results[key])
    # even the few-step smoke adapter lowers the loss on the answers a lot
    assert results["tuned_val_loss"] < results["base_val_loss"], results
    if not smoke:  # the default run's floors (see TUNED_TEST_FLOOR), and what the committed run showed
        assert results["base_exact_match"] <= BASE_CEILING, results["base_exact_match"]
        assert results["tuned_exact_match"] >= TUNED_TEST_FLOOR, results["tuned_exact_match"]
        assert results["base_handwritten_exact_match"] <= BASE_CEILING, results[
            "base_handwritten_exact_match"
        ]
        assert results["handwritten_exact_match"] >= TUNED_HANDWRITTEN_FLOOR, results[
            "handwritten_exact_match"
        ]
        # the tuned model is clearly better, on both sets: its interval lies above the base model's
        assert results["tuned_exact_match_ci"][0] > results["base_exact_match_ci"][1], results
        assert hw["tuned"]["all"]["ci"][0] > hw["base"]["all"]["ci"][1], hw
        # 90 Chinese examples give a wider interval than all 300 (the committed run: Chinese is also the weaker one)
        assert _width(by_lang["zh"]["tuned"]["ci"]) > _width(results["tuned_exact_match_ci"]), by_lang
        assert fs["tuned"]["exact_match"] > fs["zero_shot_base"]["exact_match"], fs
