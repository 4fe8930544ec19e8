"""Checks on what notebook 00 records."""


def check(results: dict) -> None:
    assert results["n_params"] == 134_515_008, results["n_params"]
    assert results["answer_mentions_paris"] is True, results["answer"]
    assert "Paris" in results["answer"]
    assert results["device"] in {"cpu", "cuda"}
    assert results["compute_dtype"] in {"float32", "bfloat16"}
    assert 0 < results["load_seconds"] < 60
