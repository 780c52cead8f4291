#!/usr/bin/env bash
# The learner's validation runs (issue "policy learning that learns"); not CI: about 10-20 CPU-minutes per seed.
#   scripts/validate.sh NAME [SEED ...]      NAME: a file configs/validation/NAME.yaml; seeds default to 0 1 2
# Writes data/validation/NAME/seed<S>/ (runs, git-ignored) and reports/validation/NAME/ (report, PNGs, curve CSVs).
set -euo pipefail
cd "$(dirname "$0")/.."
name=${1:?usage: scripts/validate.sh NAME [SEED ...]}
shift
seeds=${*:-0 1 2}
rrl=${RRL:-.venv/bin/rrl-pipe}  # RRL: another command (a long run pinned to a worktree of its own)
export MUJOCO_GL=${MUJOCO_GL:-egl}
human=../shared/data/hand_dapg/door-v0_demos.pickle
case $name in
  door_state|door_state_dapg_dense|door_state_std025)  # the DAPG project's 25 human demos, replayed as RRL's convertDemos.py
    task=door; demos=data/validation/demos/door-human.h5
    [ -f "$demos" ] || $rrl make-demos --task door --source hand_dapg_human --path "$human" --out "$demos" ;;
  hammer_state|relocate_state)       # the scripted experts' 25 demos
    task=${name%_state}; demos=data/validation/demos/$task-scripted.h5
    [ -f "$demos" ] || $rrl make-demos --task "$task" --source scripted --out "$demos" ;;
  door_vision_pretrained|door_vision_random|door_vision_gate)  # RRL's door setup on EfficientNet-Lite0 features
    task=door; demos=data/validation/demos/door-human.h5
    [ -f "$demos" ] || $rrl make-demos --task door --source hand_dapg_human --path "$human" --out "$demos" ;;
  door_vision)                       # needs `dvc repro` first: its frames, feature stores and VAE for door
    task=door; demos=data/demos/door.h5 ;;
  *) echo "scripts/validate.sh: unknown validation $name (see configs/validation/)" >&2; exit 2 ;;
esac
cfg=configs/validation/$name.yaml
if [ "$name" = door_vision ]; then  # BC alone against BC + DAPG, per encoder and for the state oracle
  runs=data/validation/$name; evals=data/validation/eval/$name
  for enc in ${ENCODERS:-state vae resnet18}; do
    obs=vision; params=$cfg; features=data/features/door/$enc.zarr
    [ "$enc" = state ] && obs=state
    if [ "$enc" = resnet18 ]; then  # encoded here from dvc's frames, at encode's default precision
      features=data/validation/features/door/resnet18.zarr
      [ -d "$features" ] || $rrl encode --model resnet18 --out "$features"
    fi
    for mode in bc dapg; do
      $rrl train-policy --task door --params "$params" --encoder "$enc" --vae-model data/vae/door/model.pt \
          --demos "$demos" --features "$features" --obs "$obs" --mode "$mode" --out "$runs/$enc-$mode"
      $rrl evaluate --params "$params" --encoder "$enc" --vae-model data/vae/door/model.pt \
          --policy "$runs/$enc-$mode/policy.pt" --out "$evals/$enc-$mode.json"
    done
  done
  $rrl report --every-run --runs "$runs" --evals "$evals" --out "reports/validation/$name"
  for run in "$runs"/*/; do cp "$run/curves.csv" "reports/validation/$name/$(basename "$run").csv"; done
  exit 0
fi
if [[ $name == door_vision_* ]]; then  # demos and rollouts rendered alike (the config's render_demos)
  frames=data/validation/frames/door-human.h5; weights=pretrained
  [ "$name" = door_vision_random ] && weights=random
  features=data/validation/features/door-human/efficientnet_lite0-$weights.zarr
  [ -f "$frames" ] || $rrl render-demos --params "$cfg" --demos "$demos" --out "$frames"
  $rrl encode --params "$cfg" --model efficientnet_lite0 --weights "$weights" --frames "$frames" --out "$features"  # no-op when done
  runs=data/validation/$name
  for seed in $seeds; do
    $rrl train-policy --task door --params "$cfg" --encoder efficientnet_lite0 --features "$features" \
        --frames "$frames" --seed "$seed" --out "$runs/seed$seed"
    $rrl evaluate --params "$cfg" --encoder efficientnet_lite0 --policy "$runs/seed$seed/policy.pt" \
        --out "data/validation/eval/$name/seed$seed.json"
  done
  $rrl report --every-run --runs "$runs" --evals "data/validation/eval/$name" --out "reports/validation/$name"
  for seed in $seeds; do cp "$runs/seed$seed/curves.csv" "reports/validation/$name/seed$seed.csv"; done
  exit 0
fi
runs=data/validation/$name
for seed in $seeds; do
  $rrl train-policy --task "$task" --params "$cfg" --demos "$demos" --seed "$seed" \
      --out "$runs/seed$seed"
  $rrl evaluate --params "$cfg" --encoder state --policy "$runs/seed$seed/policy.pt" \
      --out "data/validation/eval/$name/seed$seed.json"
done
$rrl report --every-run --runs "$runs" --evals "data/validation/eval/$name" --out "reports/validation/$name"
for seed in $seeds; do cp "$runs/seed$seed/curves.csv" "reports/validation/$name/seed$seed.csv"; done
