"""The course on disk: its source and release notebooks, and grading workspaces.

A *workspace* holds one gradebook and the files graded into it: ``submitted/``,
``autograded/``, ``feedback/``, ``grades.csv`` and ``reports/``. The instructor's default
workspace is ``grading/``; ``make demo`` uses ``build/demo`` and ``make grade-me``
``build/grade-me``, so the three never share a gradebook.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
COURSE_ID = "cnn-course"
KERNEL_NAME = "cnn-course"
SOURCE_DIR = "solutions"
RELEASE_DIR = "course"


class CourseError(Exception):
    """A problem with the course or its input that the user must fix; printed as one line."""


@dataclass(frozen=True)
class Course:
    """The notebooks: ``solutions/<a>/<a>.ipynb`` (source) and ``course/<a>/<a>.ipynb`` (release)."""

    root: Path = REPO_ROOT

    @property
    def source_dir(self) -> Path:
        return self.root / SOURCE_DIR

    @property
    def release_dir(self) -> Path:
        return self.root / RELEASE_DIR

    def assignments(self) -> list[str]:
        """Assignment names in course order (``01_conv_arithmetic``, ...)."""
        if not self.source_dir.is_dir():
            raise CourseError(f"no {SOURCE_DIR}/ directory under {self.root}")
        return sorted(p.name for p in self.source_dir.iterdir() if (p / f"{p.name}.ipynb").is_file())

    def source_notebook(self, assignment: str) -> Path:
        return self.source_dir / assignment / f"{assignment}.ipynb"

    def release_notebook(self, assignment: str) -> Path:
        return self.release_dir / assignment / f"{assignment}.ipynb"

    def require(self, assignment: str) -> str:
        """Return ``assignment`` if it exists, else raise a one-line ``CourseError``."""
        known = self.assignments()
        if assignment in known:
            return assignment
        import difflib

        close = difflib.get_close_matches(assignment, known, n=1)
        hint = f"; did you mean {close[0]}?" if close else f"; known: {', '.join(known)}"
        raise CourseError(f"unknown assignment {assignment!r}{hint}")


@dataclass(frozen=True)
class Workspace:
    """Where one gradebook and its graded files live."""

    path: Path
    db_url: str | None = None

    @property
    def gradebook_url(self) -> str:
        return self.db_url or f"sqlite:///{self.path / 'gradebook.db'}"

    @property
    def submitted(self) -> Path:
        return self.path / "submitted"

    @property
    def autograded(self) -> Path:
        return self.path / "autograded"

    @property
    def feedback(self) -> Path:
        return self.path / "feedback"

    @property
    def reports(self) -> Path:
        return self.path / "reports"

    @property
    def grades_csv(self) -> Path:
        return self.path / "grades.csv"

    def autograded_notebook(self, student: str, assignment: str) -> Path:
        return self.autograded / student / assignment / f"{assignment}.ipynb"

    def create(self) -> Workspace:
        self.path.mkdir(parents=True, exist_ok=True)
        return self


DEFAULT_WORKSPACE = REPO_ROOT / "grading"
