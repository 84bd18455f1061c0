"""Shared fixtures for engine tests: the embedded default model, loaded once per session."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(scope="session")
def default_loaded():
    """The embedded default model (SmolLM2-135M-Instruct) for the engine, float32 on CPU."""
    from engine.config import EngineConfig
    from engine.models.loader import load_model

    return load_model(EngineConfig(model="default", device="cpu", dtype="float32"))


@pytest.fixture(scope="session")
def hf_model(default_loaded):
    """The same weights in Hugging Face transformers (the reference), float32 on CPU."""
    from transformers import AutoModelForCausalLM

    model = AutoModelForCausalLM.from_pretrained(str(default_loaded.folder), dtype=torch.float32)
    return model.eval()
