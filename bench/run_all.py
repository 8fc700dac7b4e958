"""Run every benchmark script in this folder, one after another (timings, not tests)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
SCRIPTS = ["conv_unfold.py", "grading.py", "mnist_time_to_99.py"]

if __name__ == "__main__":
    for name in SCRIPTS:
        print(f"\n===== bench/{name} =====", flush=True)
        subprocess.run([sys.executable, str(HERE / name)], check=False)
