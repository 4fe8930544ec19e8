"""Checks on what notebook 00 records."""

from helpers.models import ARCHITECTURES, EMBEDDED_HUB_ID


def check(results: dict) -> None:
    published = ARCHITECTURES[EMBEDDED_HUB_ID]["published_params"]  # the model card's count
    assert results["n_params"] == published, (results["n_params"], "published", published)
    assert "Paris" in results["answer"], results["answer"]
    # the prose says a second greedy run repeats the first, and that the base model misses the JSON record
    assert results["greedy_repeats"] is True
    assert results["task_answer_is_record"] is False
