"""Checks on what notebook 00 records."""


def check(results: dict) -> None:
    assert results["n_params"] == 134_515_008, results["n_params"]
    assert results["answer_mentions_paris"] is True, results["answer"]
    assert "Paris" in results["answer"]
    assert results["device"] in {"cpu", "cuda"}
    assert results["compute_dtype"] in {"float32", "bfloat16"}
    assert 0 < results["load_seconds"] < 60
    # the prose says a second greedy run repeats the first, and that the base model misses the JSON record
    assert results["greedy_repeats"] is True
    assert results["task_answer_is_record"] is False
