"""Settings every test shares, the core's (tests/) and each plugin's (plugins/<task>/tests/): skip ``gpu``
tests without CUDA, and one torch thread."""

from __future__ import annotations

import pytest


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    import torch

    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA device (torch.cuda.is_available() is False)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(autouse=True, scope="session")
def _one_torch_thread() -> None:
    """Tiny test models gain nothing from a second thread, and on a shared
    2-core machine a busy core stalls multi-threaded torch ops for ~0.4 s each."""
    import torch

    torch.set_num_threads(1)
