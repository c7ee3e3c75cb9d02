# Wheel build matrix of sageattention: one target per (platform, torch, CUDA, Python).
#
#   docker buildx bake                                     # default: Linux, PyTorch 2.8, CUDA 12.9, Python 3.12
#   docker buildx bake linux                               # every Linux wheel
#   docker buildx bake test-linux-pytorch28-cu129-python312  # build it, install it in a clean image, run the tests
#   docker buildx bake --print all                         # show what would be built
#
# Wheels land in ./dist (DIST_DIR). Windows targets build only on a Windows host with Windows
# containers (see README); CI builds them natively (.github/workflows/wheels.yml).
# Target names are fixed to the versions they carry; the custom target takes the variables below:
#   TORCH_VERSION=2.9.1 CUDA_VERSION=12.8 CUDA_IMAGE=nvidia/cuda:12.8.1-devel-rockylinux8 \
#     docker buildx bake linux-custom

variable "PYTHON_VERSION" {
  default = "3.12"
}

variable "TORCH_VERSION" {
  default = "2.8.0"
}

variable "CUDA_VERSION" {
  default = "12.9"
}

variable "CUDA_IMAGE" {
  default = "nvidia/cuda:12.9.1-devel-rockylinux8"
}

# GPU archs compiled into every wheel (torch style; the build maps it to SAGE_CUDA_ARCHS).
variable "TORCH_CUDA_ARCH_LIST" {
  default = "8.0;8.6;8.9;9.0a;10.0;12.0"
}

# Parallel nvcc jobs: each takes a few GB of RAM.
variable "MAX_JOBS" {
  default = "4"
}

variable "DIST_DIR" {
  default = "dist"
}

# ---------------------------------------------------------------------------------------------
# Bases
# ---------------------------------------------------------------------------------------------
target "_common" {
  context = "."
  target  = "wheel"
  output  = ["type=local,dest=${DIST_DIR}"]
  args = {
    TORCH_CUDA_ARCH_LIST = "${TORCH_CUDA_ARCH_LIST}"
    MAX_JOBS             = "${MAX_JOBS}"
  }
}

target "_linux" {
  inherits   = ["_common"]
  dockerfile = "docker/Dockerfile.linux"
  platforms  = ["linux/amd64"]
}

target "_windows" {
  inherits   = ["_common"]
  dockerfile = "docker/Dockerfile.windows"
  platforms  = ["windows/amd64"]
}

# ---------------------------------------------------------------------------------------------
# Wheels
# ---------------------------------------------------------------------------------------------
target "linux-pytorch27-cu128-python312" {
  inherits = ["_linux"]
  args = {
    PYTHON_VERSION = "3.12"
    TORCH_VERSION  = "2.7.1"
    CUDA_VERSION   = "12.8"
    CUDA_IMAGE     = "nvidia/cuda:12.8.1-devel-rockylinux8"
  }
}

target "linux-pytorch28-cu129-python312" {
  inherits = ["_linux"]
  args = {
    PYTHON_VERSION = "3.12"
    TORCH_VERSION  = "2.8.0"
    CUDA_VERSION   = "12.9"
    CUDA_IMAGE     = "nvidia/cuda:12.9.1-devel-rockylinux8"
  }
}

target "linux-pytorch211-cu130-python312" {
  inherits = ["_linux"]
  args = {
    PYTHON_VERSION = "3.12"
    TORCH_VERSION  = "2.11.0"
    CUDA_VERSION   = "13.0"
    CUDA_IMAGE     = "nvidia/cuda:13.0.2-devel-rockylinux8"
  }
}

target "windows-pytorch27-cu128-python312" {
  inherits = ["_windows"]
  args = {
    PYTHON_VERSION    = "3.12"
    TORCH_VERSION     = "2.7.1"
    CUDA_VERSION      = "12.8"
    CUDA_FULL_VERSION = "12.8.1"
  }
}

target "windows-pytorch28-cu129-python312" {
  inherits = ["_windows"]
  args = {
    PYTHON_VERSION    = "3.12"
    TORCH_VERSION     = "2.8.0"
    CUDA_VERSION      = "12.9"
    CUDA_FULL_VERSION = "12.9.1"
  }
}

# Any other combination, from the variables above (not part of `all`).
target "linux-custom" {
  inherits = ["_linux"]
  args = {
    PYTHON_VERSION = "${PYTHON_VERSION}"
    TORCH_VERSION  = "${TORCH_VERSION}"
    CUDA_VERSION   = "${CUDA_VERSION}"
    CUDA_IMAGE     = "${CUDA_IMAGE}"
  }
}

# ---------------------------------------------------------------------------------------------
# Tests: build the wheel, install it into a clean image (no compiler, no source tree) and run
# tests/python there. The GPU tests run when the builder exposes a GPU; otherwise they are
# skipped at build time and run with:  docker run --gpus all sageattention-test:<target>
# (after `docker buildx bake --load test-<target>`).
# ---------------------------------------------------------------------------------------------
target "test-linux-pytorch27-cu128-python312" {
  inherits = ["linux-pytorch27-cu128-python312"]
  target   = "test"
  output   = ["type=cacheonly"]
  tags     = ["sageattention-test:linux-pytorch27-cu128-python312"]
}

target "test-linux-pytorch28-cu129-python312" {
  inherits = ["linux-pytorch28-cu129-python312"]
  target   = "test"
  output   = ["type=cacheonly"]
  tags     = ["sageattention-test:linux-pytorch28-cu129-python312"]
}

target "test-linux-pytorch211-cu130-python312" {
  inherits = ["linux-pytorch211-cu130-python312"]
  target   = "test"
  output   = ["type=cacheonly"]
  tags     = ["sageattention-test:linux-pytorch211-cu130-python312"]
}

target "test-windows-pytorch27-cu128-python312" {
  inherits = ["windows-pytorch27-cu128-python312"]
  target   = "test"
  output   = ["type=cacheonly"]
  tags     = ["sageattention-test:windows-pytorch27-cu128-python312"]
}

target "test-windows-pytorch28-cu129-python312" {
  inherits = ["windows-pytorch28-cu129-python312"]
  target   = "test"
  output   = ["type=cacheonly"]
  tags     = ["sageattention-test:windows-pytorch28-cu129-python312"]
}

target "test-linux-custom" {
  inherits = ["linux-custom"]
  target   = "test"
  output   = ["type=cacheonly"]
  tags     = ["sageattention-test:linux-custom"]
}

# ---------------------------------------------------------------------------------------------
# Groups
# ---------------------------------------------------------------------------------------------
group "default" {
  targets = ["linux-pytorch28-cu129-python312"]
}

group "linux" {
  targets = [
    "linux-pytorch27-cu128-python312",
    "linux-pytorch28-cu129-python312",
    "linux-pytorch211-cu130-python312",
  ]
}

group "windows" {
  targets = [
    "windows-pytorch27-cu128-python312",
    "windows-pytorch28-cu129-python312",
  ]
}

group "pytorch27" {
  targets = [
    "linux-pytorch27-cu128-python312",
    "windows-pytorch27-cu128-python312",
  ]
}

group "pytorch28" {
  targets = [
    "linux-pytorch28-cu129-python312",
    "windows-pytorch28-cu129-python312",
  ]
}

group "pytorch211" {
  targets = ["linux-pytorch211-cu130-python312"]
}

group "all" {
  targets = ["linux", "windows"]
}

group "test-linux" {
  targets = [
    "test-linux-pytorch27-cu128-python312",
    "test-linux-pytorch28-cu129-python312",
    "test-linux-pytorch211-cu130-python312",
  ]
}

group "test-windows" {
  targets = [
    "test-windows-pytorch27-cu128-python312",
    "test-windows-pytorch28-cu129-python312",
  ]
}

group "test-all" {
  targets = ["test-linux", "test-windows"]
}
