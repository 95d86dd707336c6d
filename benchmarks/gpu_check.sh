#!/usr/bin/env bash
# GPU check (issue 15): segeval's CUDA paths on a machine with CUDA, in one call of a few minutes.
#
#   bash benchmarks/gpu_check.sh                 # on the GPU machine: its own torch, no network
#   bash benchmarks/gpu_check.sh --dry-run       # the same steps on the CPU (here, and in a test)
#   bash benchmarks/gpu_check.sh --fetch-wheels  # where pip works: the wheels to carry, into .whl/
#
# Steps: (1) install the carried wheels (.whl/*.whl: SimpleITK, connected-components-3d, the packages the
# GPU machine's image lacks) with --no-index --no-deps into a temporary folder, and run segeval from this
# tree through PYTHONPATH (nothing is built or downloaded); (2) print the machine's torch and device;
# (3) run the tests marked `gpu` (CUDA against the CPU: scoring, distance metrics, losses); (4) run
# benchmarks/bench_gpu.py (d3 volumes: counting and distances on the device vs the CPU, segeval.score,
# loss forward + backward); (5) print one summary. Exit 0 when every step passed.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 2

device=cuda
bench_args=()
case "${1:-}" in
    "") ;;
    --dry-run) device=cpu; bench_args=(--quick --cases 2 --repeats 2) ;;
    --fetch-wheels)
        # the GPU machine runs CPython 3.12 on x86-64 (manylinux); versions as in this environment
        exec python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
            --platform manylinux_2_28_x86_64 --platform manylinux_2_17_x86_64 --platform manylinux2014_x86_64 \
            -d .whl "SimpleITK==2.5.7" "connected-components-3d==4.1.1" ;;
    *) echo "usage: bash benchmarks/gpu_check.sh [--dry-run | --fetch-wheels]" >&2; exit 2 ;;
esac
started=$SECONDS
summary=()
logs=$(mktemp -d)

if compgen -G ".whl/*.whl" > /dev/null; then
    site=$(mktemp -d)
    if python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" .whl/*.whl; then
        export PYTHONPATH="$site"
        summary+=("wheels: installed $(ls .whl/*.whl | wc -l) carried wheel(s)")
    else
        summary+=("wheels: FAILED to install the carried wheels")
    fi
else
    summary+=("wheels: none carried (.whl/ is empty); using the installed packages")
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

if ! python3 - "$device" << 'EOF'; then
import sys

import torch

device = sys.argv[1]
print(f"torch {torch.__version__}, CUDA available: {torch.cuda.is_available()}", end="")
print(f", {torch.cuda.get_device_name(0)}" if torch.cuda.is_available() else "")
sys.exit(device == "cuda" and not torch.cuda.is_available())
EOF
    echo "gpu_check: no CUDA device; use --dry-run for the CPU run" >&2
    exit 1
fi
torch_version=$(python3 -c "import torch; print(torch.__version__)")
summary+=("torch: $torch_version on $device")

failed=0
mapfile -t gpu_tests < <(grep -rl --include='test_*.py' "mark.gpu" tests | sort)
echo "== tests marked gpu: ${gpu_tests[*]}"
timeout 150 python3 -m pytest -q -p no:cacheprovider -m gpu "${gpu_tests[@]}" 2>&1 | tee "$logs/tests.log"
status=${PIPESTATUS[0]}
summary+=("gpu tests: $(tail -n 1 "$logs/tests.log") (exit $status)")
[[ $status -eq 0 ]] || failed=1

echo "== bench_gpu.py --device $device ${bench_args[*]}"
timeout 240 python3 benchmarks/bench_gpu.py --device "$device" "${bench_args[@]}" 2>&1 | tee "$logs/bench.log"
status=${PIPESTATUS[0]}
summary+=("benchmark: $(tail -n 1 "$logs/bench.log") (exit $status)")
[[ $status -eq 0 ]] || failed=1

echo
echo "== gpu_check summary ($device, $((SECONDS - started)) s)"
printf '  %s\n' "${summary[@]}"
sed -n '/^step /,/^$/p' "$logs/bench.log" | sed 's/^/  /'
echo "gpu_check: $([[ $failed -eq 0 ]] && echo passed || echo FAILED)"
exit $failed
