"""Which kernel and P·V mode ``sageattn`` uses on a device (one place, read by the CLI too)."""

from __future__ import annotations

import re
from dataclasses import dataclass

import torch

from sageattention import _build_info

# Values of the C++ enums (csrc/include/sageattention/types.h) and op arguments.
LAYOUTS = {"HND": 0, "NHD": 1}
QK_GRANULARITIES = {"per_block": 0, "per_warp": 1, "per_thread": 2}
PV_FP16_FP32, PV_FP16_FP16_FP32, PV_FP8_FP32, PV_FP8_FP32_FP32, PV_FP8_FP16_FP32 = 0, 1, 2, 3, 4
PV_FP16_MODES = {"fp32": PV_FP16_FP32, "fp16+fp32": PV_FP16_FP16_FP32}
# "fp32+fp16": fp16 accumulation per key block (V codes within +-2.25), then fp32; mma.sync only.
PV_FP8_MODES = {"fp32": PV_FP8_FP32, "fp32+fp32": PV_FP8_FP32_FP32, "fp32+fp16": PV_FP8_FP16_FP32}
PV_FP8_SM90_MODES = {"fp32": PV_FP8_FP32, "fp32+fp32": PV_FP8_FP32_FP32}
KERNEL_AUTO, KERNEL_MMA, KERNEL_SM90 = 0, 1, 2


# sm90 with the Hopper kernels: calls with at most this much work, B·Hq·Nq·Nk, by padded head dim and
# mask, run faster with FP16 P·V (Hopper FP16-P·V kernel) than with FP8 P·V: that mode reads V as it
# is, where FP8 P·V first quantizes and transposes V in a launch of its own, a cost that the short
# key loop does not amortise. Measured on the H200 with bench/short_n_crossover.py (docs/PERFORMANCE.md,
# session 15): below these limits FP16 P·V runs at 0.98-1.36x FP8, above them at 0.92-1.05x. FP16 P·V
# is also the more accurate mode (rel-L1 0.011 against 0.038 on N(0,1)).
SM90_FP16_PV_MAX_WORK = {(64, False): 1 << 28, (64, True): 1 << 30, (128, False): 1 << 27, (128, True): 1 << 30}


@dataclass(frozen=True)
class Choice:
    pv_mode: int
    kernel: int
    description: str
    fp16_pv_for_short_calls: bool = False  # SM90_FP16_PV_MAX_WORK applies


def pick(choice: Choice, batch: int, heads_q: int, n_q: int, n_k: int, head_dim: int, is_causal: bool):
    """(pv_mode, kernel) that ``sageattn`` runs for a call of this shape (varlen: Hq·total_q·max_seqlen_k
    stands in for the work)."""
    if choice.fp16_pv_for_short_calls and head_dim <= 128:
        limit = SM90_FP16_PV_MAX_WORK[(64 if head_dim <= 64 else 128, bool(is_causal))]
        if batch * heads_q * n_q * n_k <= limit:
            return PV_FP16_FP32, KERNEL_AUTO
    return choice.pv_mode, choice.kernel


# Decisions per (device type, index), made once: no device query per call (and a plain dict, which
# torch.compile traces without a graph break).
_CHOICES: dict = {}


def choose(device: torch.device) -> Choice:
    """The default of ``sageattn``: the fastest 8-bit path for the GPU."""
    index = None
    if device.type == "cuda":
        index = device.index if device.index is not None else torch.cuda.current_device()
    key = (device.type, index)
    if key not in _CHOICES:
        _CHOICES[key] = _choose(device.type, index)
    return _CHOICES[key]


@torch.compiler.assume_constant_result
def _arch(index: int) -> int:
    """Compute capability as 10 * major + minor (a constant to torch.compile, never a graph input)."""
    major, minor = torch.cuda.get_device_capability(index)
    return major * 10 + minor


def hopper_kernels_built() -> bool:
    """Whether this build has the Hopper TMA/wgmma kernels (compiled for sm_90a)."""
    return "90a" in _build_info.CUDA_ARCHS


@torch.compiler.assume_constant_result
def compiled_code_runs(min_arch: int, arch: int) -> bool:
    """Whether code compiled for some arch >= min_arch runs on an sm_<arch> GPU (as the C++
    compiled_code_runs): with PTX on every later arch, machine code only ("-real") or family
    code ("f") on later archs of its major, arch-specific code ("90a") on its own arch. A constant
    to torch.compile."""
    for entry in _build_info.CUDA_ARCHS:
        digits = re.match(r"\d+", entry)
        compiled = int(digits.group()) if digits else 0
        if compiled < min_arch or compiled > arch:
            continue
        suffix = entry[digits.end():]
        if suffix == "" or suffix == "-virtual":
            return True
        if suffix[0] == "a":
            if compiled == arch:
                return True
        elif compiled // 10 == arch // 10:
            return True
    return False


def _choose(device_type: str, index) -> Choice:
    if device_type != "cuda":
        return Choice(PV_FP8_FP32_FP32, KERNEL_AUTO,
                      "CPU reference: INT8 Q·K, FP8 P·V (fp32+fp32), exact algorithm of the GPU kernels")
    arch = _arch(index)
    if arch < 80 or not compiled_code_runs(80, arch):
        archs = ", ".join(_build_info.CUDA_ARCHS) or "none"
        return Choice(PV_FP16_FP32, KERNEL_MMA,
                      f"sm{arch}: no kernel (they need sm_80 or newer and a build whose code runs here; "
                      f"this build: {archs}); calls raise an error")
    if arch == 90 and hopper_kernels_built():
        return Choice(PV_FP8_FP32_FP32, KERNEL_AUTO,
                      "sm90: INT8 Q·K + FP8 P·V, Hopper TMA/wgmma kernel (mma.sync fallback); FP16 P·V for "
                      "calls with little work (B·H·Nq·Nk up to 2^27-2^30 by head dim and mask, D <= 128)",
                      fp16_pv_for_short_calls=True)
    if arch == 90:
        # On sm_90 the mma.sync FP16 P·V mode is faster than its FP8 one (FP8 mma.sync is emulated
        # there; H200 D=128 16k: 465 vs 359 TOPS, docs/PERFORMANCE.md) and more accurate.
        return Choice(PV_FP16_FP32, KERNEL_MMA,
                      "sm90: INT8 Q·K + FP16 P·V, mma.sync kernel (this build has no sm_90a Hopper kernels)")
    if arch >= 89 and compiled_code_runs(89, arch):
        return Choice(PV_FP8_FP32_FP32, KERNEL_MMA, f"sm{arch}: INT8 Q·K + FP8 P·V, mma.sync kernel")
    if arch >= 89:
        return Choice(PV_FP16_FP32, KERNEL_MMA,
                      f"sm{arch}: INT8 Q·K + FP16 P·V, mma.sync kernel (this build has no FP8 code that runs here)")
    return Choice(PV_FP16_FP32, KERNEL_MMA, f"sm{arch}: INT8 Q·K + FP16 P·V, mma.sync kernel")
