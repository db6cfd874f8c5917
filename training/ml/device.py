"""Where tensors live and in which precision: CUDA with bf16 autocast when present, else CPU fp32."""

from __future__ import annotations

import contextlib
import os

import torch


def pick_device(requested: str | torch.device | None = None) -> torch.device:
    if requested is not None and str(requested) != "auto":
        return torch.device(requested)
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


def autocast(device: torch.device) -> contextlib.AbstractContextManager:
    if device.type == "cuda":
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)}, bf16 autocast)"
    return f"cpu ({torch.get_num_threads()} threads, fp32)"


def configure(device: torch.device) -> None:
    if device.type == "cuda":
        # TF32 for the few fp32 matmuls left outside autocast.
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True


class Threads:
    """Torch's intra-op threads for a training run on CPU. One while it runs only small ops (a
    head on cached embeddings: threads spend their time waiting on each other at every op), and
    for the encoder too when the machine is oversubscribed (load average at or above its cores):
    there, threads that wait on each other also wait on other processes, and on a loaded 2-core
    machine one thread ran an encoder step 4x faster than two. No-op on CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.active = device.type == "cpu"
        self.initial = torch.get_num_threads()
        self.current = self.initial

    def small_ops(self, small: bool) -> None:
        if not self.active:
            return
        want = 1 if small or _oversubscribed() else self.initial
        if want != self.current:
            torch.set_num_threads(want)
            self.current = want

    def restore(self) -> None:
        if self.active and self.current != self.initial:
            torch.set_num_threads(self.initial)
            self.current = self.initial


def _oversubscribed() -> bool:
    try:
        load = os.getloadavg()[0]
    except OSError:  # not available on this platform
        return False
    return load >= (os.cpu_count() or 1)
