#!/usr/bin/env bash
# Issue 15's comparison (docs/experiments/2026-12-01-beyond-the-studio.md): one CRNN member per
# speaker-independent RAVDESS fold, per-utterance vs per-speaker normalisation (train.py --norm prosody: RMS, ZCR, f0 and
# voicing against the speaker baseline; --norm speaker: every feature), each scored
# through the runtime on its held-out actors (the speaker model with and without --adapt), on
# EmoDB 03+08 and on emotiontts-kr (never trained on); then one temperature fitted on the folds.
# One training run at a time, one thread (10-20 min each on a shared 2-core machine).
#   bash experiments/adapt-folds.sh [OUT_DIR]        (default build/exp/adapt; finished steps are skipped)
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-build/exp/adapt}
FEAT=build/feat
earshot() { nice -n 10 node --import tsx src/cli.ts "$@"; }
for c in ravdess emodb emotiontts-kr; do
  [ -f $FEAT/$c/manifest.json ] || earshot features ../shared/data/$c --corpus $c --vad -q -c training/configs/logmel40-rms-zcr-pitch.json --out $FEAT/$c
done
folds=("01,02,03,04" "05,06,07,08" "09,10,11,12" "13,14,15,16" "17,18,19,20")
actors=("1-4" "5-8" "9-12" "13-16" "17-20")
for k in 1 2 3 4 5; do
  for norm in utterance prosody speaker; do
    m=$OUT/$norm/fold$k
    mkdir -p $OUT/$norm
    [ -f $m.py.json ] || nice -n 10 PYTHONPATH=training/python /usr/bin/python3 -m earshot_train --features $FEAT/ravdess --arch crnn --holdout "ravdess:${folds[$((k-1))]}" \
      --out $m --epochs 40 --hidden 96 --max-frames 400 --norm $norm --threads 1 --vad \
      --report $m.py.json --extra-test $FEAT/emodb $FEAT/emotiontts-kr > $m.log 2>&1
    a=${actors[$((k-1))]}
    if [ $norm != utterance ]; then
      [ -f $m.rav-adapt.json ] || earshot eval ../shared/data/ravdess --corpus ravdess --actors $a --model $m.json --adapt --json $m.rav-adapt.json --predictions > $m.rav-adapt.txt
      [ -f $m.rav.json ] || earshot eval ../shared/data/ravdess --corpus ravdess --actors $a --model $m.json --json $m.rav.json --predictions > $m.rav.txt
      for c in emodb emotiontts-kr; do
        [ -f $m.$c-adapt.json ] || earshot eval ../shared/data/$c --corpus $c --model $m.json --adapt --json $m.$c-adapt.json --predictions > $m.$c-adapt.txt
        [ -f $m.$c.json ] || earshot eval ../shared/data/$c --corpus $c --model $m.json --json $m.$c.json --predictions > $m.$c.txt
      done
    else
      [ -f $m.rav.json ] || earshot eval ../shared/data/ravdess --corpus ravdess --actors $a --model $m.json --json $m.rav.json --predictions > $m.rav.txt
      for c in emodb emotiontts-kr; do
        [ -f $m.$c.json ] || earshot eval ../shared/data/$c --corpus $c --model $m.json --json $m.$c.json --predictions > $m.$c.txt
      done
    fi
  done
done
# one temperature per recipe, fitted on its 5 folds' held-out predictions; ECE on the other corpora at it
earshot calibrate $OUT/utterance/fold?.rav.json --test $OUT/utterance/fold?.emodb.json $OUT/utterance/fold?.emotiontts-kr.json
earshot calibrate $OUT/prosody/fold?.rav-adapt.json --test $OUT/prosody/fold?.emodb-adapt.json $OUT/prosody/fold?.emotiontts-kr-adapt.json
