"""benchmarks/generate.py: a small synthetic package validates, has the awards asked for, and is the same for a seed."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from aifunding import BUNDLED_DATA
from aifunding.loading.package import Package, load_package

from packages import generate

AWARDS = 300


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("generated") / "package"
    generate(AWARDS, out, seed=7)
    return out


@pytest.fixture(scope="module")
def loaded(generated: Path) -> Package:
    return load_package(generated)


def test_generated_package_is_valid_with_the_awards_asked_for(loaded: Package, bundled: Package) -> None:
    assert loaded.report.valid, [p.as_text() for p in loaded.report.errors[:5]]
    assert not loaded.report.quarantined
    awards = loaded.frame("awards")
    assert len(awards) == AWARDS + len(bundled.frame("awards"))
    synthetic = awards[awards["id"].str.startswith("synthetic-award-")]
    assert len(synthetic) == AWARDS
    assert synthetic["purpose_en"].str.contains("Synthetic").all()


def test_joint_awards_have_one_lead_and_members(loaded: Package) -> None:
    recipients = loaded.frame("award_recipients")
    synthetic = recipients[recipients["award_id"].str.startswith("synthetic-award-")]
    roles = synthetic.groupby("award_id")["role"].agg(list)
    joint = roles[roles.map(len) > 1]
    assert len(joint) > 0, "300 awards include joint ones"
    for award, award_roles in joint.items():
        assert Counter(award_roles) == Counter({"lead": 1, "member": len(award_roles) - 1}), award
    assert all(r == ["sole"] for r in roles[roles.map(len) == 1])


def test_generation_is_deterministic_for_a_seed(generated: Path, tmp_path: Path) -> None:
    again, other = tmp_path / "again", tmp_path / "other"
    generate(AWARDS, again, seed=7)
    generate(AWARDS, other, seed=8)
    files = sorted(p.name for p in generated.iterdir())
    assert files == sorted(p.name for p in again.iterdir())
    assert all((generated / name).read_bytes() == (again / name).read_bytes() for name in files)
    assert any((generated / name).read_bytes() != (other / name).read_bytes() for name in files)


def test_refuses_a_folder_that_is_not_empty_or_the_bundled_package(tmp_path: Path) -> None:
    (tmp_path / "something.txt").write_text("x")
    with pytest.raises(FileExistsError):
        generate(1, tmp_path)
    with pytest.raises(ValueError):
        generate(1, BUNDLED_DATA)
