"""Checks on what notebook 01 records."""

import importlib.util

from helpers.env import DATA_DIR


def _zh_share() -> dict[str, float]:
    """The generator's own Chinese share per split (data/generate.py: ZH_SHARE): one source of that figure."""
    spec = importlib.util.spec_from_file_location("lora_lab_data_generate", DATA_DIR / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.ZH_SHARE


def check(results: dict) -> None:
    assert results["n_train"] >= 2000 and results["n_validation"] >= 200 and results["n_test"] >= 200, results
    wanted = _zh_share()
    assert set(results["zh_share"]) == set(wanted), results["zh_share"]
    for split, share in results["zh_share"].items():
        # the training mix holds more Chinese than validation and test (data/README.md)
        assert abs(share - wanted[split]) < 0.005, (split, share, wanted[split])
    # section 8: the training split oversamples Chinese and every hard case; no test customer is seen in training
    assert results["zh_share_train"] > max(results["zh_share_validation"], results["zh_share_test"])
    for kind, share in results["hard_share"]["train"].items():
        held_out = (results["hard_share"]["validation"][kind], results["hard_share"]["test"][kind])
        assert share > max(held_out), (kind, share, held_out)
    assert results["test_names_in_train"] == 0, results["test_names_in_train"]
    # section 5: most English words are one token; Chinese takes far more tokens per character
    assert results["en_one_token_word_share"] > 0.5, results["en_one_token_word_share"]
    per_char = results["tokens_per_char"]
    assert per_char["zh"] > 1 and per_char["zh"] > 3 * per_char["en"], per_char
    # section 7: Chinese records are longer in tokens although shorter in characters
    assert results["median_tokens"]["zh"] > results["median_tokens"]["en"], results["median_tokens"]
    assert results["median_chars"]["zh"] < results["median_chars"]["en"], results["median_chars"]
    assert 50 <= results["tokens_p50"] <= results["tokens_p95"] <= results["tokens_max"] <= 200, results
    assert results["max_length"] >= results["tokens_max"] and results["max_length"] % 32 == 0
    assert results["labels_match_answer"] is True
    assert results["broken_rejected"] == results["broken_total"] >= 8
    # The seed-style objective starts far above the correct format's loss, and its batch crashes.
    assert results["seed_style_loss"] > 2 * results["correct_loss"], results
    assert results["seed_batch_error"] and "length" in results["seed_batch_error"]
    assert set(results["dataset_rows"]) == {"train", "validation", "test"}
    assert all(n > 0 for n in results["dataset_rows"].values())
    if not results["smoke"]:
        assert results["dataset_rows"]["train"] == results["n_train"]
