from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.serving import factory

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def trained(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, Any]]:
    """Tiny trained artifacts (directory, TrainResult): "v1" and "v2" (FM + MLP; same data, other
    seed), "plain" (no text, no numerics), "two_tower" (two-tower interactions, no MLP)."""
    root = tmp_path_factory.mktemp("serving-artifacts")
    encoder = factory.tiny_encoder(root / "encoder")
    specs = {
        "v1": {"encoder": encoder, "seed": 0},
        "v2": {"encoder": encoder, "seed": 1},
        "plain": {"encoder": None, "seed": 0, "numeric": False, "text": False},
        "two_tower": {"encoder": encoder, "seed": 2, "interaction": "two_tower", "hidden_units": ()},
    }
    return {name: (root / name, factory.train_artifact(root / name, **kw)) for name, kw in specs.items()}


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
    from serving.runtime import reset_cache
    from serving.stats import recorder

    settings.STEWARD_SERVING_BACKGROUND_WRITES = False
    reset_cache()
    recorder.reset()
    yield
    reset_cache()
    recorder.reset()


class Registry:
    """Registers trained artifacts as model versions (through the training app's services) and
    moves aliases, for one test."""

    def __init__(self, trained: dict[str, tuple[Path, Any]], actor: Any) -> None:
        self.trained = trained
        self.actor = actor
        self.versions: dict[tuple[str, int], Any] = {}

    def add_version(self, name: str, artifact: str, *, dataset_versions: dict[str, Any] | None = None) -> Any:
        from django.conf import settings

        from training.services import model_version_create

        path, result = self.trained[artifact]
        stored = f"models/{name}/{artifact}-{uuid.uuid4().hex[:8]}"
        target = Path(settings.MEDIA_ROOT) / stored
        target.parent.mkdir(parents=True, exist_ok=True)
        target.symlink_to(path, target_is_directory=True)  # artifacts are read-only: share, don't copy
        mv = model_version_create(
            actor=self.actor,
            model_name=name,
            job=None,
            artifact=stored,
            result=result,
            versions=dataset_versions or {},
            config={},
        )
        self.versions[(name, mv.version)] = mv
        return mv

    def set_alias(self, name: str, alias: str, number: int) -> None:
        from training.models import RegisteredModel
        from training.services import model_alias_set

        model_alias_set(actor=self.actor, model=RegisteredModel.objects.get(name=name), alias=alias, version=number)


@pytest.fixture
def registry(trained: dict[str, tuple[Path, Any]], personas: dict[str, Any]) -> Registry:
    return Registry(trained, personas["ml_engineer"])


@pytest.fixture
def shop(registry: Registry) -> Registry:
    """Model "shop" with v1 and v2 registered and production on v1."""
    registry.add_version("shop", "v1")
    registry.add_version("shop", "v2")
    registry.set_alias("shop", "production", 1)
    return registry
