"""Checks on what notebook 00 records."""

from helpers.models import ARCHITECTURES, EMBEDDED_HUB_ID


def check(results: dict) -> None:
    published = ARCHITECTURES[EMBEDDED_HUB_ID]["published_params"]  # the model card's count
    assert results["n_params"] == published, (results["n_params"], "published", published)
    assert results["answer_mentions_paris"] is True, results["answer"]
    assert "Paris" in results["answer"]
    assert results["device"] in {"cpu", "cuda"}
    assert results["compute_dtype"] in {"float32", "bfloat16"}
    assert results["load_seconds"] > 0  # how long is bench territory: a slow machine is no failure
    # the prose says a second greedy run repeats the first, and that the base model misses the JSON record
    assert results["greedy_repeats"] is True
    assert results["task_answer_is_record"] is False
