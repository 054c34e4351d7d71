"""Finding recorded incident cases on disk and reading their ground truth."""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from lumos.tools.casefiles import CASE_FILE, read_yaml
from lumos.tools.domain import GroundTruth
from lumos.tools.errors import InputError

TRUTH_FILE = "truth.yaml"
DEMO_CASE = "demo/shop-bad-deploy"


class CaseRef(BaseModel):
    """A case folder and the dataset it belongs to (the name of its parent folder)."""

    model_config = ConfigDict(frozen=True)

    path: Path
    dataset: str

    @property
    def name(self) -> str:
        """The case folder's name."""
        return self.path.name


def bundled_cases_dir() -> Path:
    """The folder of cases shipped with LUMOS (demo and synthetic CI cases)."""
    return Path(str(resources.files("lumos.evals") / "cases"))


def demo_case_dir() -> Path:
    """The bundled demo case: a shop where a bad deploy breaks checkout."""
    return bundled_cases_dir() / DEMO_CASE


def discover_cases(roots: list[Path]) -> list[CaseRef]:
    """Every folder holding a case.yaml at or below each root, sorted by dataset then name."""
    found: dict[Path, CaseRef] = {}
    for root in roots:
        if not root.exists():
            raise InputError("no such directory", path=root)
        if not root.is_dir():
            raise InputError("expected a directory of cases", path=root)
        candidates = [root / CASE_FILE] if (root / CASE_FILE).is_file() else sorted(root.rglob(CASE_FILE))
        for case_file in candidates:
            folder = case_file.parent.resolve()
            found.setdefault(folder, CaseRef(path=folder, dataset=folder.parent.name))
    return sorted(found.values(), key=lambda c: (c.dataset, c.name))


def load_truth(case_dir: Path) -> GroundTruth | None:
    """truth.yaml of a case, or None when the case is not scored (no file, or an unfilled template: comments only)."""
    path = case_dir / TRUTH_FILE
    if not path.is_file() or truth_is_template(path):
        return None
    return read_yaml(path, GroundTruth)


def truth_is_template(path: Path) -> bool:
    """True for a truth.yaml that holds only comments (the template `lumos cases record` writes)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return False
    return all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines())
