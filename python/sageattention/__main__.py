"""`python -m sageattention`: what this build is and what `sageattn` would run here."""

from __future__ import annotations

import platform

import torch

import sageattention
from sageattention import _build_info
from sageattention._dispatch import choose
from sageattention._ops import library_file


def main() -> None:
    print(f"sageattention {sageattention.__version__}")
    print(f"  library:        {library_file()}")
    print(f"  built against:  torch {_build_info.TORCH_VERSION}, CUDA {_build_info.CUDA_VERSION or 'none (CPU-only build)'}")
    archs = ", ".join(f"sm_{a}" for a in _build_info.CUDA_ARCHS) or "none"
    print(f"  kernels for:    {archs}")
    print(f"running:          torch {torch.__version__} (CUDA {torch.version.cuda or 'none'}), "
          f"Python {platform.python_version()}, {platform.system()} {platform.machine()}")
    if torch.cuda.is_available():
        for index in range(torch.cuda.device_count()):
            device = torch.device("cuda", index)
            major, minor = torch.cuda.get_device_capability(index)
            print(f"GPU {index}:            {torch.cuda.get_device_name(index)} (sm_{major}{minor})")
            print(f"  sageattn picks: {choose(device).description}")
    else:
        print("GPU:              none visible")
        print(f"  sageattn picks: {choose(torch.device('cpu')).description}")


if __name__ == "__main__":
    main()
