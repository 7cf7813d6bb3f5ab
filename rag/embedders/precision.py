"""The number format passages are embedded in, and which index vectors may be mixed.

On a CPU with native bfloat16 (AVX-512 BF16, AMX) PyTorch's autocast runs the model's matrix
products in bf16 at about twice the fp32 speed, and the vectors stay those of the same model:
on 854 realtimeqa_2023 passages the mean cosine to fp32 vectors was 0.99998 (lowest 0.99997).
Without native bf16 it is emulated and slower than fp32, so "auto" takes it only where it is
native. Questions keep their own path (the int8 query model, or fp32), which is fastest for a
dozen tokens.

A variant names how an index's vectors were made ("torch-bf16", "openvino-bf16": what ran the
model, and in which format); the index records every variant it holds. Variants of one group
give vectors that may sit side by side in one index: all four come from the same fp32 weights
and agree to four decimals (OpenVINO bf16: mean cosine 0.999985 to PyTorch fp32, lowest
0.99996). An int8 passage graph would be a group of its own (its vectors were measured at a
mean cosine of 0.947 to fp32).
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

VARIANT_GROUPS = {"torch-fp32": "fp32-weights", "torch-bf16": "fp32-weights",
                  "openvino-fp32": "fp32-weights", "openvino-bf16": "fp32-weights"}
DEFAULT_VARIANT = "torch-fp32"  # what an index that records none was built with


def native_bf16() -> bool:
    """Whether this CPU computes bf16 natively (oneDNN's own check)."""
    import torch

    check = getattr(getattr(torch.ops, "mkldnn", None), "_is_mkldnn_bf16_supported", None)
    try:
        return bool(torch.backends.mkldnn.is_available() and check is not None and check())
    except RuntimeError:
        return False


def choose_precision(setting: str) -> str:
    """"fp32" or "bf16" for a `passage_precision` setting ("auto": bf16 where it is native)."""
    if setting == "auto":
        return "bf16" if native_bf16() else "fp32"
    return setting


def autocast(precision: str) -> AbstractContextManager:
    """The context the model's forward pass runs in for `precision`."""
    if precision != "bf16":
        return nullcontext()
    import torch

    return torch.autocast("cpu", dtype=torch.bfloat16)


def group_of(variant: str) -> str:
    return VARIANT_GROUPS.get(variant, variant)


def mixable(variants: list[str] | tuple[str, ...], variant: str) -> bool:
    """Whether vectors made by `variant` may join an index holding `variants`."""
    return all(group_of(v) == group_of(variant) for v in variants)
