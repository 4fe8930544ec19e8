"""Checks on what notebook 01 records."""


def check(results: dict) -> None:
    assert results["n_train"] >= 2000 and results["n_validation"] >= 200 and results["n_test"] >= 200, results
    for split, share in results["zh_share"].items():
        # the training mix holds more Chinese (data/README.md); validation and test keep 30 %
        assert (0.35 <= share <= 0.45) if split == "train" else (0.25 <= share <= 0.35), (split, share)
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
