#!/usr/bin/env bash
# All of seqtk's GPU checks in one prepared run (issue 20), at most ~8 minutes on one GPU:
#   machine report (seqtk doctor) | pytest -m gpu | AMP bf16/fp16 vs fp32 (char LM, sentiment) |
#   cuDNN vs the reference LSTM cell, and cuDNN kept on every supported layer | generation at batch 1 and 64 |
#   a time-budgeted textgen_gpu run | a 1-process NCCL torchrun run of toy_tiny | every tiny recipe on CUDA
#
#   bash bench/gpu_check.sh --out DIR [--dry-run] [--only doctor,pytest,...] [--budget SECONDS]
#
# Writes DIR/gpu_check.json (every figure, each step's exit code and seconds, the goals) and
# DIR/gpu_check.log (every step's output). A failing step is recorded and the others still run, so one
# bug does not waste a GPU loan; the exit code is 1 if any step failed. --dry-run runs the same code on
# the CPU with tiny sizes in about a minute (tests/bench/test_gpu_check.py runs it in CI); its figures
# mean nothing. Needs seqtk installed (`pip install --no-deps --no-build-isolation -e .` where nothing
# can be fetched) and the recipes' data in seqtk's data folder ($SEQTK_DATA_DIR).
set -uo pipefail
cd "$(dirname "$0")/.."

out="" dry="" only="doctor,pytest,tiny,amp,cudnn,generate,textgen,ddp" budget=180
while [ $# -gt 0 ]; do
  case "$1" in
    --out) out="$2"; shift 2 ;;
    --dry-run) dry="--dry-run"; shift ;;
    --only) only="$2"; shift 2 ;;
    --budget) budget="$2"; shift 2 ;;
    *) echo "gpu_check: unknown argument '$1'. Fix: use --out DIR [--dry-run] [--only a,b] [--budget S]" >&2; exit 2 ;;
  esac
done
if [ -z "$out" ]; then
  echo "gpu_check: --out DIR is required. Fix: name the folder for gpu_check.json and gpu_check.log" >&2
  exit 2
fi
mkdir -p "$out"
py="${PYTHON:-python3}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
if [ -n "$dry" ]; then budget=10; fi
export PYTHONUNBUFFERED=1

# step NAME SECONDS CMD...: run CMD with a time limit, its output in WORK/NAME.log, its status in WORK/NAME.status
step() {
  local name="$1" limit="$2"; shift 2
  case ",$only," in *",$name,"*) ;; *) return 0 ;; esac
  local start rc
  start=$(date +%s)
  echo "== $name (limit ${limit}s): $*" | tee -a "$work/all.log"
  timeout --kill-after=10 "$limit" "$@" >"$work/$name.log" 2>&1
  rc=$?
  echo "$rc $(( $(date +%s) - start ))" >"$work/$name.status"
  cat "$work/$name.log" >>"$work/all.log"
  echo "== $name: exit $rc after $(( $(date +%s) - start ))s" | tee -a "$work/all.log"
}

gc=("$py" bench/gpu_check.py --work "$work" ${dry:+--dry-run})

step doctor 60 "$py" -m seqtk doctor --json --gemm-seconds 1
if [ -f "$work/doctor.log" ]; then grep '^{' "$work/doctor.log" >"$work/doctor.json" || true; fi
if [ -n "$dry" ]; then
  step pytest 120 "$py" -m pytest -m gpu --collect-only -q -p no:cacheprovider
else
  step pytest 240 "$py" -m pytest -m gpu -q -rfEs -p no:cacheprovider
fi
if [ -f "$work/pytest.log" ]; then "${gc[@]}" pytest --log "$work/pytest.log" --out "$work/pytest.json"; fi
# Every tiny recipe through the CLI on the best device (CUDA there), then evaluated; a dry run leaves
# this to CI's own CPU run of the same tests. Music needs music21, which a GPU image may lack.
if [ -z "$dry" ]; then
  skip=""; "$py" -c "import music21" 2>/dev/null || skip="not music_tiny"
  step tiny 240 "$py" -m pytest tests/test_tiny_recipes.py -q -rfEs -p no:cacheprovider ${skip:+-k "$skip"}
  if [ -f "$work/tiny.log" ]; then "${gc[@]}" pytest --log "$work/tiny.log" --out "$work/tiny.json"; fi
fi
step amp 180 "${gc[@]}" amp --out "$work/amp.json"
step cudnn 120 "${gc[@]}" cudnn --out "$work/cudnn.json"
step generate 60 "${gc[@]}" generate --out "$work/generate.json"
step textgen $(( ${budget%.*} + 120 )) "${gc[@]}" textgen --budget "$budget" --out "$work/textgen.json"
step ddp 120 "${gc[@]}" ddp --out "$work/ddp.json"

"${gc[@]}" summarize --out "$out/gpu_check.json"
cp "$work/all.log" "$out/gpu_check.log"
failed=$(cat "$work"/*.status 2>/dev/null | awk '$1 != 0' | wc -l)
echo "gpu_check: results in $out/gpu_check.json, logs in $out/gpu_check.log; $failed step(s) failed"
[ "$failed" -eq 0 ]
