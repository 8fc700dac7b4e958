"""``python -m autograder.translation``: keep the Chinese edition in step with the English source.

    update [NB ...]        merge the notebooks' current cells (and the library's strings) into the catalogs
    status                 list every string without a current translation; exit 1 if any
    export NB FILE         write a side-by-side work file for translators
    import NB FILE         copy a work file's translations into NB's catalog
    build                  compile the library catalogs, write the Chinese solutions and release course-zh/
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from autograder.translation import catalogs

ROOT = Path(__file__).resolve().parents[2]


def _source(notebook: str) -> nbformat.NotebookNode:
    path = ROOT / "solutions" / notebook / f"{notebook}.ipynb"
    if not path.is_file():
        raise SystemExit(f"translation: no notebook solutions/{notebook}/{notebook}.ipynb")
    return nbformat.read(path, as_version=4)


def _notebooks(names: list[str]) -> list[str]:
    return names or sorted(p.name for p in (ROOT / "solutions").iterdir() if (p / f"{p.name}.ipynb").is_file())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m autograder.translation", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("update").add_argument("notebooks", nargs="*")
    sub.add_parser("status")
    for name in ("export", "import"):
        p = sub.add_parser(name)
        p.add_argument("notebook")
        p.add_argument("file", type=Path)
    sub.add_parser("build")
    args = parser.parse_args(argv)

    if args.command == "update":
        for nb in _notebooks(args.notebooks):
            cat = catalogs.update(_source(nb), nb, catalogs.catalog_path(ROOT, nb))
            print(f"{nb}: {len(cat)} entries")
        if not args.notebooks:
            from autograder.translation import library
            library.update_all()
        return 0
    if args.command == "status":
        from autograder.translation.status import report
        return report(ROOT)
    if args.command in ("export", "import") and args.notebook == "library":
        from autograder.translation import library
        path, items = library.po_path(), library.items()
        cat = catalogs.load(path)
        if args.command == "export":
            print(f"{args.file}: {catalogs.export_work(items, cat, args.file)} strings")
            return 0
        errors = catalogs.import_work(items, cat, args.file)
        catalogs.save(cat, path)
        left = library.problems()
        for line in errors + left[:20]:
            print(f"library: {line}")
        print(f"library: {len(items) - len(left)} of {len(items)} strings translated")
        return 1 if errors or left else 0
    if args.command == "export":
        nb = _source(args.notebook)
        items = catalogs.notebook_items(nb)
        count = catalogs.export_work(items, catalogs.load(catalogs.catalog_path(ROOT, args.notebook)), args.file)
        print(f"{args.file}: {count} cells")
        return 0
    if args.command == "import":
        path = catalogs.catalog_path(ROOT, args.notebook)
        nb, cat = _source(args.notebook), catalogs.load(path)
        errors = catalogs.import_work(catalogs.notebook_items(nb), cat, args.file)
        catalogs.save(cat, path)
        left = catalogs.problems(nb, cat)
        for line in errors + left:
            print(f"{args.notebook}: {line}")
        total = len(catalogs.notebook_items(nb))
        print(f"{args.notebook}: {total - len(left)} of {total} cells translated")
        return 1 if errors or left else 0
    if args.command == "build":
        from autograder.course import Course
        from autograder.translation.build import release_chinese

        print(f"wrote {release_chinese(Course(ROOT)).relative_to(ROOT)}/ and cnnlab/locale/")
        return 0
    return 2


if __name__ == "__main__":
    sys.exit(main())
