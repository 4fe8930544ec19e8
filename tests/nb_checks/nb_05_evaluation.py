"""Checks on what notebook 05 records."""

import math

import pytest


def check(results: dict) -> None:
    keys = ["base_json_valid", "tuned_json_valid", "base_exact_match", "tuned_exact_match"]
    for key in keys:
        assert 0.0 <= results[key] <= 1.0, (key, results[key])
    n = results["n"]
    # smoke scores a subset; the default run the whole test split
    assert n == (8 if results["smoke"] else 300), n
    for model in ("base", "tuned"):
        fields = results[f"{model}_field_exact"]
        assert set(fields) == {"customer", "product", "quantity", "city"}, fields
        # every exact record has every field right, and only a valid answer can be exact
        assert results[f"{model}_exact_match"] <= min(fields.values()) + 1e-9, (model, fields)
        assert results[f"{model}_exact_match"] <= results[f"{model}_json_valid"] + 1e-9
        for v in fields.values():  # fractions of n examples
            assert abs(v * n - round(v * n)) < 1e-6, (model, fields)
    assert isinstance(results["adapter_rebuilt"], bool)
    for key in ("base_val_loss", "tuned_val_loss", "tuned_train_loss"):
        assert math.isfinite(results[key]) and results[key] > 0, (key, results[key])
    assert results["tuned_perplexity"] == pytest.approx(math.exp(results["tuned_val_loss"]), rel=1e-6)
    # even the few-step smoke adapter lowers the loss on the answers a lot
    assert results["tuned_val_loss"] < results["base_val_loss"], results
    if not results["smoke"]:  # the targets for the default run
        assert results["base_exact_match"] <= 0.15, results["base_exact_match"]
        assert results["tuned_exact_match"] >= 0.90, results["tuned_exact_match"]
