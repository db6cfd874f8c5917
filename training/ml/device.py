"""Where tensors live and in which precision: CUDA with bf16 autocast when present, else CPU fp32."""

from __future__ import annotations

import contextlib

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
    """Torch's intra-op threads for a training loop on CPU: one while it runs only small ops (a
    head on cached embeddings, where threads spend their time waiting on each other and, on a
    shared machine, on other processes), the process's own number for the encoder. No-op on CUDA."""

    def __init__(self, device: torch.device) -> None:
        self.active = device.type == "cpu"
        self.initial = torch.get_num_threads()
        self.current = self.initial

    def small_ops(self, small: bool) -> None:
        want = 1 if small else self.initial
        if self.active and want != self.current:
            torch.set_num_threads(want)
            self.current = want

    def restore(self) -> None:
        self.small_ops(False)
