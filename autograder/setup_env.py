"""Post-install setup of the virtual environment: the course kernel and JupyterLab settings.

Run by ``make setup``. Idempotent: running it again rewrites the same files.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

KERNEL_NAME = "cnn-course"
KERNEL_DISPLAY_NAME = "Python 3 (cnn-course)"

# JupyterLab settings for everyone using this environment: no news pop-up, no
# update checks (the machines are offline), and no "kernel busy" dialog fights.
LAB_OVERRIDES = {
    "@jupyterlab/apputils-extension:notification": {
        "checkForUpdates": False,
        "fetchNews": "false",
    },
}


def install_kernel(name: str = KERNEL_NAME, display_name: str = KERNEL_DISPLAY_NAME) -> Path:
    """Write a kernelspec into this environment that runs *this* interpreter."""
    kernel_dir = Path(sys.prefix) / "share" / "jupyter" / "kernels" / name
    kernel_dir.mkdir(parents=True, exist_ok=True)
    spec = {
        "argv": [sys.executable, "-Xfrozen_modules=off", "-m", "ipykernel_launcher", "-f", "{connection_file}"],
        "display_name": display_name,
        "language": "python",
        "metadata": {"debugger": True},
        "env": {"PYTHONWARNINGS": "ignore::DeprecationWarning"},
    }
    (kernel_dir / "kernel.json").write_text(json.dumps(spec, indent=1) + "\n")
    return kernel_dir


def write_lab_overrides() -> Path:
    """Write JupyterLab setting overrides into this environment."""
    settings_dir = Path(sys.prefix) / "share" / "jupyter" / "lab" / "settings"
    settings_dir.mkdir(parents=True, exist_ok=True)
    path = settings_dir / "overrides.json"
    path.write_text(json.dumps(LAB_OVERRIDES, indent=1) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--kernel", default=KERNEL_NAME, help="kernel name to register")
    args = parser.parse_args(argv)
    kernel_dir = install_kernel(args.kernel)
    write_lab_overrides()
    print(f"kernel '{args.kernel}' -> {kernel_dir}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
