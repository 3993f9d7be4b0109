#!/usr/bin/env bash
# All of seqtk's GPU checks in one prepared run (issue 20), about 4 minutes on one H200:
#   machine report (seqtk doctor) | pytest -m gpu | every tiny recipe on CUDA | AMP bf16/fp16 vs fp32 (char LM,
#   sentiment) | cuDNN vs the reference LSTM cell, cuDNN kept on every supported layer, the cost of ragged
#   bidirectional batches | generation at batch 1, 8 and 64, eager against CUDA-graph steps | min_gru, min_lstm
#   and mlstm training against cuDNN's LSTM at equal parameters, T = 512 and 2048 | a time-budgeted textgen_gpu run |
#   a 1-process NCCL torchrun run of toy_tiny
#
#   bash bench/gpu_check.sh --out DIR [--dry-run] [--only doctor,pytest,...] [--budget SECONDS] [--deadline SECONDS]
#
# Writes DIR/gpu_check.json (every figure, each step's exit code and seconds, the goals) and DIR/gpu_check.log
# (every step's output), both updated after each step, so a run killed midway still leaves what it measured.
# A failing step is recorded and the others still run, so one bug does not waste a GPU loan; the exit code is 1
# if any step failed. Each step has its own time limit, and no step starts or runs past --deadline (default
# 480 s from the start). --dry-run runs the same code on the CPU with tiny sizes in about a minute
# (tests/test_gpu_check.py runs it in CI); its figures mean nothing. Needs seqtk installed
# (`pip install --no-deps --no-build-isolation -e .` where nothing can be fetched) and the recipes' data in
# seqtk's data folder ($SEQTK_DATA_DIR).
set -uo pipefail
STEPS="doctor,pytest,tiny,amp,cudnn,generate,scan,textgen,ddp"

usage() {
  echo "gpu_check: $1. Fix: use --out DIR [--dry-run] [--only STEP,...] [--budget SECONDS] [--deadline SECONDS];" \
       "the steps are $STEPS" >&2
  exit 2
}

out="" dry="" only="$STEPS" budget=180 deadline=480
while [ $# -gt 0 ]; do
  case "$1" in
    --out|--only|--budget|--deadline) [ $# -ge 2 ] || usage "$1 needs a value" ;;&
    --out) out="$2"; shift 2 ;;
    --dry-run) dry="--dry-run"; shift ;;
    --only) only="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    --deadline) deadline="$2"; shift 2 ;;
    *) usage "unknown argument '$1'" ;;
  esac
done
[ -n "$out" ] || usage "--out DIR is required (the folder for gpu_check.json and gpu_check.log)"
for n in "$budget" "$deadline"; do [[ "$n" =~ ^[0-9]+$ ]] || usage "'$n' is not a whole number of seconds"; done
for name in ${only//,/ }; do
  case ",$STEPS," in *",$name,"*) ;; *) usage "unknown step '$name' in --only" ;; esac
done
mkdir -p "$out" || usage "cannot create the folder '$out'"
out="$(cd "$out" && pwd)"  # absolute: the script works from the repository root
cd "$(dirname "$0")/.."

py="${PYTHON:-python3}"
work="$(mktemp -d)"
log="$out/gpu_check.log"
: >"$log"
if [ -n "$dry" ]; then budget=10; fi
export PYTHONUNBUFFERED=1
started=$(date +%s)
gc=("$py" bench/gpu_check.py --work "$work" ${dry:+--dry-run})

summarize() { "${gc[@]}" summarize --out "$out/gpu_check.json" >>"$log" 2>&1; }
finish() { summarize; rm -rf "$work"; }
trap finish EXIT
trap 'exit 143' TERM INT  # so that a killed run still summarizes what it measured

# step NAME SECONDS CMD...: run CMD with a time limit (never past the deadline), its output appended to the log,
# its exit code and seconds in WORK/NAME.status
step() {
  local name="$1" limit="$2"; shift 2
  case ",$only," in *",$name,"*) ;; *) return 0 ;; esac
  local left=$(( deadline - ($(date +%s) - started) ))
  if [ "$left" -lt 15 ]; then
    echo "== $name: not run, the deadline (${deadline}s) is reached" | tee -a "$log"
    echo "124 0" >"$work/$name.status"
    return 0
  fi
  [ "$limit" -le "$left" ] || limit=$left
  local start rc
  start=$(date +%s)
  echo "== $name (limit ${limit}s): $*" | tee -a "$log"
  timeout --kill-after=10 "$limit" "$@" >>"$log" 2>&1
  rc=$?
  echo "$rc $(( $(date +%s) - start ))" >"$work/$name.status"
  echo "== $name: exit $rc after $(( $(date +%s) - start ))s" | tee -a "$log"
  summarize
}

# pytest_step NAME SECONDS ARGS...: pytest with its own log, whose closing line gives the counts
pytest_step() {
  local name="$1" limit="$2"; shift 2
  step "$name" "$limit" bash -c 'set -o pipefail; "$0" -m pytest "$@" -p no:cacheprovider 2>&1 | tee "'"$work/$name"'.log"' "$py" "$@"
  if [ -f "$work/$name.log" ]; then "${gc[@]}" pytest --log "$work/$name.log" --out "$work/$name.json"; summarize; fi
}

step doctor 60 bash -c 'set -o pipefail; "$0" -m seqtk doctor --json --gemm-seconds 1 | tee "'"$work"'/doctor.json"' "$py"
if [ -n "$dry" ]; then
  pytest_step pytest 120 -m gpu --collect-only -q
else
  pytest_step pytest 180 -m gpu -q -rfEs
  # Every tiny recipe through the CLI on the best device (CUDA there), then evaluated; a dry run leaves this to
  # CI's own CPU run of the same tests. Music needs music21, which a GPU image may lack.
  skip=""; "$py" -c "import music21" 2>/dev/null || skip="not music_tiny"
  pytest_step tiny 180 tests/test_tiny_recipes.py -q -rfEs ${skip:+-k "$skip"}
fi
step amp 150 "${gc[@]}" amp --out "$work/amp.json"
step cudnn 120 "${gc[@]}" cudnn --out "$work/cudnn.json"
step generate 90 "${gc[@]}" generate --out "$work/generate.json"
step scan 90 "${gc[@]}" scan --out "$work/scan.json"
step textgen $(( budget + 90 )) "${gc[@]}" textgen --budget "$budget" --out "$work/textgen.json"
step ddp 90 "${gc[@]}" ddp --out "$work/ddp.json"

failed=$(cat "$work"/*.status 2>/dev/null | awk '$1 != 0' | wc -l)
echo "gpu_check: results in $out/gpu_check.json, logs in $log; $failed step(s) failed or did not finish"
[ "$failed" -eq 0 ]
