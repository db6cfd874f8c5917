from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.factories import ModelRegistry, minilm_tokenizer, tiny_bert, train_shop_artifact


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Tiny trained artifacts (directory, TrainResult): "v1" and "v2" (FM + MLP; same data, other
    seed), "plain" (no text, no numerics), "two_tower" (two-tower interactions, no MLP). The encoder
    is a tiny random BERT with the real MiniLM tokenizer."""
    root = tmp_path_factory.mktemp("serving-artifacts")
    encoder = tiny_bert(root / "encoder", minilm_tokenizer())
    specs = {
        "v1": {"encoder": encoder, "seed": 0},
        "v2": {"encoder": encoder, "seed": 1},
        "plain": {"encoder": None, "seed": 0, "numeric": False, "text": False},
        "two_tower": {"encoder": encoder, "seed": 2, "interaction": "two_tower", "hidden_units": ()},
    }
    return {name: (root / name, train_shop_artifact(root / name, **kw)) for name, kw in specs.items()}


@pytest.fixture(scope="session")
def artifacts(trained: dict[str, tuple[Path, Any]]) -> dict[str, Path]:
    return {name: path for name, (path, _) in trained.items()}


@pytest.fixture(scope="session")
def predictors(artifacts: dict[str, Path]) -> dict[str, Any]:
    from training.ml import load_artifact

    return {name: load_artifact(path, device="cpu") for name, path in artifacts.items()}


@pytest.fixture(autouse=True)
def _serving_state(settings: Any) -> Iterator[None]:
    """Each test starts with an empty model cache and counters, and writes its counters on demand."""
    from serving.loader import reset_cache
    from serving.stats import recorder

    settings.STEWARD_SERVING_BACKGROUND_WRITES = False
    reset_cache()
    recorder.reset()
    yield
    reset_cache()
    recorder.reset()


@pytest.fixture
def registry(trained: dict[str, tuple[Path, Any]], personas: dict[str, Any]) -> ModelRegistry:
    return ModelRegistry(trained, personas["ml_engineer"])


@pytest.fixture
def engineer(api_as: Any) -> Any:
    """An API client of an ML engineer (who may score and move aliases)."""
    return api_as("ml_engineer")


@pytest.fixture
def shop(registry: ModelRegistry) -> ModelRegistry:
    """Model "shop" with v1 and v2 registered and production on v1."""
    registry.add_version("shop", "v1")
    registry.add_version("shop", "v2")
    registry.set_alias("shop", "production", 1)
    return registry
