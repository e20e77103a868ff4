#!/bin/bash
# Trains networks on a leased single-GPU machine that holds no copy of
# ../shared and may be given back between commands of at most ten minutes.
#
# Here, before leasing (makes .gpu/, which git ignores through
# .git/info/exclude; about 56 MB):
#   bash models/train/gpu_run.sh pack
# There, in the repository root, with .gpu carried:
#   bash models/train/gpu_run.sh start NAME MINUTES TRAIN_ARGS...   # one per run; returns at once
#   bash models/train/gpu_run.sh wait SECONDS                       # tails the logs; copies weights to $OUT
# Runs go on in their own process session between commands; every `wait`
# copies each run's latest checkpoint and log to $OUT, so a machine taken
# back mid-run still leaves the last epoch's weights. Validation, selection
# and export then run here:
#   /usr/bin/python3 models/train/train.py --shared ../shared --out DIR --init OUT/NAME.pt --skip-train ...
set -eu
cmd=${1:?pack, start or wait}
shift
runs=/tmp/platenet_runs
case $cmd in
pack)
	# The MIT ro- images and their labels only (the AGPL oa- ones stay
	# behind), the DejaVu fonts synth.py renders with, and the weights
	# that runs may start or distil from: the shipped network and stage 9.
	# Put others beside them with from_onnx.py.
	d=.gpu/shared/datasets/plates-dev
	mkdir -p $d/images .gpu/fonts
	cp ../shared/datasets/plates-dev/images/ro-* $d/images/
	{ head -1 ../shared/datasets/plates-dev/labels.csv; grep '^ro-' ../shared/datasets/plates-dev/labels.csv; } >$d/labels.csv
	cp /usr/share/fonts/truetype/dejavu/*.ttf .gpu/fonts/
	/usr/bin/python3 models/train/from_onnx.py --arch narrow models/platenet.onnx .gpu/shipped.pt
	/usr/bin/python3 models/train/from_onnx.py models/wide/platenet.onnx .gpu/s9.pt
	du -sh .gpu
	;;
start)
	name=${1:?NAME}
	minutes=${2:?MINUTES}
	shift 2
	mkdir -p /usr/share/fonts/truetype/dejavu $runs/$name
	cp .gpu/fonts/*.ttf /usr/share/fonts/truetype/dejavu/
	# setsid: the run outlives this command; the machine stays ours only
	# while a command is in flight, so `wait` must follow at once.
	setsid nohup python3 models/train/train.py --shared .gpu/shared --out $runs/$name \
		--time-budget "$minutes" --steps 10000000 --no-val "$@" >$runs/$name/log 2>&1 </dev/null &
	echo "started $name for $minutes min: $*"
	;;
wait)
	end=$((SECONDS + ${1:?SECONDS}))
	while [ $SECONDS -lt $end ] && pgrep -f "train.py --shared .gpu/shared" >/dev/null; do
		sleep 15
	done
	nvidia-smi --query-gpu=utilization.gpu,memory.used --format=csv,noheader || true
	for r in $runs/*/; do
		n=$(basename $r)
		echo "== $n"
		tail -3 $r/log
		cp $r/log "${OUT:-/tmp}/$n.log"
		if [ -f $r/platenet.pt ]; then cp $r/platenet.pt "${OUT:-/tmp}/$n.pt"; fi
		if [ -f $r/platenet_train.json ]; then cp $r/platenet_train.json "${OUT:-/tmp}/${n}_train.json"; fi
	done
	;;
*)
	echo "unknown command $cmd" >&2
	exit 2
	;;
esac
