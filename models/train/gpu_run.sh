#!/bin/bash
# Helper used for the shipped model on a single-GPU machine (H100): measures
# the data/step throughput with a 100-step smoke run, then trains for ~STEP_SECONDS
# (default 400 s) with the same script and seed, and saves weights to $OUT.
# Validation/threshold selection/ONNX export then run anywhere with:
#   /usr/bin/python3 models/train/train.py --shared ../shared --out models --skip-train --init OUT/platenet.pt
set -u
OUT=${OUT:-/tmp/platenet_out}; mkdir -p "$OUT"
P=${PY:-/opt/torch/.venv/bin/python3}
S=shared; [ -d $S/datasets ] || S=../shared
ls /usr/share/fonts/truetype 2>&1 | head; nproc
$P -c "import torch,cv2,PIL;print(torch.__version__,cv2.__version__,PIL.__version__,torch.cuda.get_device_name(0))"
$P models/train/train.py --shared $S --out $OUT/smoke --steps 100 --batch 128 --synthetic-only > $OUT/smoke.log 2>&1
tail -4 $OUT/smoke.log
STEPS=$($P - "$OUT/smoke.log" "${STEP_SECONDS:-400}" <<'PY'
import sys,re
t={int(m.group(1)):float(m.group(2)) for m in re.finditer(r"step (\d+)/\d+ .* ([\d.]+) s", open(sys.argv[1]).read())}
try: print(int(float(sys.argv[2])*50/(t[100]-t[50])))
except Exception: print(2500)
PY
)
echo "STEPS=$STEPS"
$P models/train/train.py --shared $S --out $OUT --steps $STEPS --batch 128 --synthetic-only --time-limit 7.8 > $OUT/train.log 2>&1
tail -3 $OUT/train.log
$P -c "
import sys,torch; sys.path.insert(0,'models/train')
from model import PlateNet, export_onnx
n=PlateNet(); n.load_state_dict(torch.load('$OUT/platenet.pt',map_location='cpu')); export_onnx(n,'$OUT/platenet_t2.onnx')" 2>&1 | tail -2
ls -la $OUT
