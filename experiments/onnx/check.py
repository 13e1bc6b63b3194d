# The official ONNX checker (full_check) and strict shape inference on exported files. Debian's
# python3-onnx is 1.12 (opsets up to 17): it can check the opset-13 (uint8) exports only.
#   /usr/bin/python3 experiments/onnx/check.py FILE.onnx...
import os
import sys

import onnx
from onnx import checker, shape_inference

for f in sys.argv[1:]:
    m = onnx.load(f)
    checker.check_model(m, full_check=True)
    inferred = shape_inference.infer_shapes(m, strict_mode=True)
    print(f"{os.path.basename(f)}: onnx {onnx.__version__} checker (full_check) and strict shape inference pass; "
          f"{len(inferred.graph.value_info)} intermediate shapes inferred")
