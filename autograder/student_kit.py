"""``make student-kit``: what an instructor hands to a class, built from this checkout.

``build/student-kit/`` (and ``build/student-kit.zip``) holds:

- ``course/`` and ``course-zh/``: the released notebooks in English and Chinese (no solutions, no hidden tests);
- ``wheels/cnnlab-<version>-py3-none-any.whl``: the student library alone (no ``autograder``:
  no reference, hidden case, wrong variant or evaluator);
- ``requirements.txt`` and ``environment.yml``: the student's dependencies, read from this
  project's ``pyproject.toml`` (its base list: the one place they are pinned);
- ``README.md``: how to install and start.
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
import tomllib
import zipfile
from pathlib import Path

from autograder.course import Course

KIT = "student-kit"
EXCLUDED = ("__pycache__", "*.pyc")

_README = """# {title}: student kit

1. Install Python 3.11, then, in this folder:

       python3.11 -m venv .venv
       .venv/bin/pip install -r requirements.txt {wheel}

   (conda: `conda env create -f environment.yml && conda activate cnn-course-student`.)
2. Start JupyterLab on the notebooks: `.venv/bin/jupyter lab course/`, and open them in order.
   中文版：`.venv/bin/jupyter lab course-zh/`（同样的练习、同样的评分，提交中文版或英文版都可以）。
3. MNIST: set `COURSE_DATA_DIR` to a folder holding `MNIST/raw/` (torchvision's layout), or
   let notebook 07 download it when your instructor allows (`COURSE_ALLOW_DOWNLOAD=1`).

`check("name")` runs an exercise's visible checks. Your grade comes from hidden tests that the
grader runs outside your notebook; the kit contains neither them nor any solution.
"""


def student_dependencies(root: Path) -> list[str]:
    """The base dependency list of ``pyproject.toml`` (grader and dev extras left out)."""
    with (root / "pyproject.toml").open("rb") as fh:
        return list(tomllib.load(fh)["project"]["dependencies"])


def build_wheel(root: Path, out: Path) -> Path:
    """A wheel of the ``cnnlab`` package alone, built from a copy so nothing else can slip in."""
    with (root / "pyproject.toml").open("rb") as fh:
        project = tomllib.load(fh)["project"]
    with tempfile.TemporaryDirectory(prefix="cnnlab-wheel-") as tmp:
        src = Path(tmp)
        shutil.copytree(root / "cnnlab", src / "cnnlab", ignore=shutil.ignore_patterns(*EXCLUDED))
        deps = ",\n    ".join(f'"{d}"' for d in student_dependencies(root))
        (src / "pyproject.toml").write_text(f'''[build-system]
requires = ["setuptools>=61"]
build-backend = "setuptools.build_meta"

[project]
name = "cnnlab"
version = "{project["version"]}"
description = "The teaching library of: {project["description"]}"
requires-python = "{project["requires-python"]}"
dependencies = [
    {deps},
]

[tool.setuptools.packages.find]
include = ["cnnlab*"]

[tool.setuptools.package-data]
cnnlab = ["expected/*.pt", "locale/*/LC_MESSAGES/*.mo"]
''')
        out.mkdir(parents=True, exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation",
                        "--wheel-dir", str(out), str(src)], check=True)
    wheels = sorted(out.glob("cnnlab-*.whl"))
    if not wheels:
        raise RuntimeError("pip wheel wrote no cnnlab wheel")
    return wheels[-1]


def build_kit(course: Course, target: Path | None = None) -> Path:
    """Write the kit folder and its zip; return the folder."""
    root = course.root
    kit = target or root / "build" / KIT
    if kit.exists():
        shutil.rmtree(kit)
    kit.mkdir(parents=True)
    shutil.copytree(course.release_dir, kit / "course", ignore=shutil.ignore_patterns(*EXCLUDED, ".ipynb_checkpoints"))
    shutil.copytree(root / "course-zh", kit / "course-zh",
                    ignore=shutil.ignore_patterns(*EXCLUDED, ".ipynb_checkpoints"))
    wheel = build_wheel(root, kit / "wheels")
    deps = student_dependencies(root)
    (kit / "requirements.txt").write_text("\n".join(deps) + "\n")
    pip_lines = "".join(f"      - {d}\n" for d in deps) + f"      - ./wheels/{wheel.name}\n"
    (kit / "environment.yml").write_text(
        "name: cnn-course-student\nchannels:\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n"
        f"  - pip:\n{pip_lines}")
    (kit / "README.md").write_text(_README.format(title="Convolutional networks in PyTorch",
                                                  wheel=f"wheels/{wheel.name}"))
    archive = kit.with_suffix(".zip")
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for path in sorted(kit.rglob("*")):
            if path.is_file():
                zf.write(path, Path(KIT) / path.relative_to(kit))
    return kit


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.student_kit", description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=None, help="kit folder (default: build/student-kit)")
    args = parser.parse_args(argv)
    kit = build_kit(Course(), args.out)
    files = sum(1 for p in kit.rglob("*") if p.is_file())
    print(f"student kit: {kit} ({files} files) and {kit.with_suffix('.zip')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
