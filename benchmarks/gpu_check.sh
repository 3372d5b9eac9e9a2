#!/usr/bin/env bash
# The GPU checks, in one script for a fresh H100/H200 machine with torch and triton
# installed and no network: the CUDA tests, the default training run on cuda, and the
# CUDA benchmark, then the whole test suite.  Everything is logged under $OUT (default ./gpu_out); a failing step
# does not stop the next; a summary comes last.  Budget: under ~8 minutes on an H100.
#
#   bash benchmarks/gpu_check.sh            # from anywhere; runs in the repository root
set -x
cd "$(dirname "$0")/.." || exit 1
OUT="${OUT:-./gpu_out}"
mkdir -p "$OUT"
OUT="$(cd "$OUT" && pwd)"
PYTHON="${PYTHON:-python}"
summary=()
failed=0

step() {  # step NAME TIMEOUT_S COMMAND...: run it, log to $OUT/NAME.log, remember rc and seconds
    local name=$1 limit=$2
    shift 2
    local start=$SECONDS
    timeout --kill-after=10 "$limit" "$@" >"$OUT/$name.log" 2>&1
    local rc=$?
    [ "$rc" -ne 0 ] && failed=$((failed + 1))
    summary+=("$(printf '%-10s rc=%-3s %4ss  (log: %s)' "$name" "$rc" "$((SECONDS - start))" "$OUT/$name.log")")
    tail -n 25 "$OUT/$name.log"
    return 0
}

# What is there: the GPU, the libraries, and which of the project's dependencies import.
nvidia-smi >"$OUT/nvidia-smi.txt" 2>&1
"$PYTHON" - >"$OUT/environment.txt" 2>&1 <<'PY'
import importlib, platform, sys
print("python", sys.version.split()[0], platform.machine())
for name in ("torch", "triton", "numpy", "yaml", "tqdm", "tensorboard", "sklearn", "pytest", "hypothesis"):
    try:
        module = importlib.import_module(name)
        print(f"{name:12s} {getattr(module, '__version__', 'ok')}")
    except Exception as error:
        print(f"{name:12s} MISSING ({type(error).__name__}: {error})")
try:
    import torch
    print("cuda available", torch.cuda.is_available(), torch.version.cuda,
          torch.cuda.get_device_name(0) if torch.cuda.is_available() else "")
except Exception as error:
    print("cuda check failed:", error)
PY
cat "$OUT/environment.txt"

# 1. The CUDA tests (collection errors from a missing test-only package do not stop the rest).
step pytest 150 "$PYTHON" -m pytest -q -m cuda -p no:cacheprovider --continue-on-collection-errors

# 2. The default training run on the GPU: its metrics and wall time.
start=$SECONDS
step train 90 "$PYTHON" train.py train.device=cuda --run-dir "$OUT/run_cuda" --overwrite
echo "train wall: $((SECONDS - start)) s" | tee -a "$OUT/train.log"
cat "$OUT/run_cuda/metrics.json"

# 3. The benchmark on the GPU (it writes its .json/.md after each section, so a timeout keeps what it measured).
# Not the solve section: it runs on the CPU whatever the device, and the CPU runs measure it.
step benchmark 270 "$PYTHON" -m benchmarks.run --device cuda --sections step,loop,mlp --out "$OUT/results"

# 4. The whole suite with the GPU present: `train.device=auto` now means cuda, so the
# training, resume and reliability tests run their default paths on the GPU.
step pytest_all 180 "$PYTHON" -m pytest -q -p no:cacheprovider

set +x
echo
echo "================ gpu_check summary ================"
cat "$OUT/environment.txt"
printf '%s\n' "${summary[@]}"
echo "--- pytest:";  tail -n 3 "$OUT/pytest.log"
echo "--- train metrics.json:"; cat "$OUT/run_cuda/metrics.json" 2>/dev/null || echo "(none)"
grep -h "train wall" "$OUT/train.log"
echo "--- benchmark results:"; ls -l "$OUT/results" 2>/dev/null
for md in "$OUT"/results/*.md; do
    if [ -f "$md" ]; then cat "$md"; fi
done
echo "--- pytest (whole suite):"; tail -n 3 "$OUT/pytest_all.log"
echo "steps failed: $failed of 4"
exit "$failed"
