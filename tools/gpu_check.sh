#!/usr/bin/env bash
# The prepared GPU check: run on a machine with an NVIDIA GPU, from the repository root.
#
#     tools/gpu_check.sh LOGDIR
#
# Builds gradcore with its CUDA backend into the current Python (pip install --no-build-isolation,
# so it needs no registry: scikit-build-core, pybind11, numpy, CMake and nvcc must be there), runs
# the CUDA tests, a short selection of them under compute-sanitizer (memcheck) where the tool
# works, and the training-step benchmark on the GPU. Each step writes LOGDIR/<step>.log and has
# its own time limit, so the whole check ends within 9 minutes; LOGDIR/summary.txt lists each
# step's exit status and time. Exits non-zero when any step failed.
set -u
LOG=${1:?usage: tools/gpu_check.sh LOGDIR}
mkdir -p "$LOG"
cd "$(dirname "$0")/.."
SUMMARY="$LOG/summary.txt"
: > "$SUMMARY"
status=0

step() {  # step NAME SECONDS COMMAND...
  local name=$1 limit=$2
  shift 2
  local t0=$SECONDS
  timeout --kill-after=10 "$limit" "$@" > "$LOG/$name.log" 2>&1
  local rc=$?
  printf '%-12s rc=%-3s %4ss  %s\n' "$name" "$rc" "$((SECONDS - t0))" "$*" | tee -a "$SUMMARY"
  tail -n 15 "$LOG/$name.log"
  [ "$rc" -eq 0 ] || status=1
  return $rc
}

{ nvidia-smi; python --version; nvcc --version; python -c "import torch; print('torch', torch.__version__)"; } \
  > "$LOG/machine.log" 2>&1

# Only the GPU's own architecture, and every core: the build is most of the budget.
arch=$(nvidia-smi --query-gpu=compute_cap --format=csv,noheader 2>/dev/null | head -n1 | tr -d '.')
export CMAKE_BUILD_PARALLEL_LEVEL=$(nproc)
step build 300 python -m pip install -v --no-build-isolation --no-deps \
  -C cmake.define.GRADCORE_CUDA=ON ${arch:+-C cmake.define.CMAKE_CUDA_ARCHITECTURES=${arch}-real} . || {
  echo "build failed: see $LOG/build.log" | tee -a "$SUMMARY"
  exit 1
}
# Run from outside the checkout so `import gradcore` is the installed package.
cd tests
step cuda_tests 150 python -m pytest -m cuda -q -x -p no:cacheprovider test_cuda.py test_norm2d.py test_pad_interp.py
if command -v compute-sanitizer > /dev/null 2>&1; then
  # GRADCORE_CUBLAS=0: the products run gradcore's own GEMM kernels (the float32 tiled one, the
  # 16-bit tensor-core one in every staging orientation), the ones worth checking for stray accesses.
  step sanitizer 90 env GRADCORE_CUBLAS=0 compute-sanitizer --tool memcheck --error-exitcode 3 \
    python -m pytest -m cuda -q -x -p no:cacheprovider test_cuda.py -k "float32 and (unary_table or activation_table or gpu_cases) or (half_gemm_matches and bfloat16 and (17x33x65 or transposed or sliced or broadcast or linear_bias))"
else
  echo "sanitizer    skipped: compute-sanitizer not found" | tee -a "$SUMMARY"
fi
cd ..
step benchmark 100 python benchmarks/train_step.py --device cuda --repeat 20
exit $status
