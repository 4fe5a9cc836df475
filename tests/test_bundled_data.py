"""The bundled data package: valid, exact as the research notes give the figures, cited, and in step
with its generated schema (checked by our validator, by frictionless, and by `aifunding schema --check`).
"""

from __future__ import annotations

import json
import shutil
from decimal import Decimal
from pathlib import Path

import pytest

from aifunding import BUNDLED_DATA
from aifunding.cli import main
from aifunding.data.report import Severity
from aifunding.data.tables import CITED_TABLES
from aifunding.loading.package import Package


def awards_of(bundled: Package, organisation: str) -> dict[str, str]:
    """Award id -> announcement date of every award naming ``organisation`` as a recipient."""
    recipients = bundled.frame("award_recipients")
    ids = set(recipients.loc[recipients["organisation_id"] == organisation, "award_id"])
    awards = bundled.frame("awards")
    mine = awards[awards["id"].isin(ids)]
    return dict(zip(mine["id"], mine["announced"], strict=True))


def test_package_is_valid_with_exactly_the_rounding_warning(bundled: Package) -> None:
    report = bundled.report
    assert report.valid, [p.as_text() for p in report.errors]
    assert report.errors == []
    assert report.quarantined == []
    [warning] = report.warnings
    assert warning.severity == Severity.WARNING
    assert warning.rule == "ceiling-rounding"
    assert warning.table == "programmes"
    assert warning.value == "72500000000"
    assert warning.file == "programmes.csv"
    lines = (BUNDLED_DATA / "programmes.csv").read_text(encoding="utf-8").splitlines()
    assert lines[warning.line - 1].startswith("jp-cloud-2024-04,")  # the line the warning names
    assert "the 5 awards under 'jp-cloud-2024-04' add up to 72,530,000,000 JPY" in warning.message
    assert "up to 72,500,000,000 JPY" in warning.message


@pytest.mark.parametrize(
    ("award_id", "amount", "recipients"),
    [
        # the five projects of the 2024-04-19 Cloud Program round, lead first for joint ones
        ("jp-cloud-2024-04-gmo", "1930000000", ["gmo-internet-group"]),
        ("jp-cloud-2024-04-sakura", "50100000000", ["sakura-internet"]),
        ("jp-cloud-2024-04-rutilea-ai-fukushima", "2560000000", ["rutilea", "ai-fukushima"]),
        ("jp-cloud-2024-04-kddi", "10240000000", ["kddi"]),
        ("jp-cloud-2024-04-highreso", "7700000000", ["highreso", "highreso-kagawa"]),
    ],
)
def test_april_2024_awards_are_exact(bundled: Package, award_id: str, amount: str, recipients: list[str]) -> None:
    award = bundled.frame("awards").set_index("id").loc[award_id]
    assert isinstance(award["amount"], Decimal)
    assert award["amount"] == Decimal(amount)
    assert str(award["amount"]) == amount  # no float rounding, no exponent
    assert (award["currency"], award["basis"], award["announced"]) == ("JPY", "up_to_about", "2024-04-19")
    assert award["programme_id"] == "jp-cloud-2024-04"
    links = bundled.frame("award_recipients")
    mine = links[links["award_id"] == award_id]
    assert list(mine["organisation_id"]) == recipients
    assert list(mine["role"]) == (["sole"] if len(recipients) == 1 else ["lead", "member"])


def test_april_2024_round_is_up_to_72_5_billion(bundled: Package) -> None:
    programme = bundled.frame("programmes").set_index("id").loc["jp-cloud-2024-04"]
    assert programme["amount"] == Decimal("72500000000")
    assert programme["basis"] == "up_to"
    awards = bundled.frame("awards")
    assert sum(awards.loc[awards["programme_id"] == "jp-cloud-2024-04", "amount"]) == Decimal("72530000000")


@pytest.mark.parametrize(
    ("organisation", "dates"),
    [
        # Sakura: the 2023 approval (month only), the government-cloud grant, the April 2024 round
        ("sakura-internet", {"2023-06", "2024-02", "2024-04-19"}),
        # SoftBank: the 2023 approval and the 2024-05-10 round
        ("softbank-corp", {"2023-07-07", "2024-05-10"}),
    ],
)
def test_recipients_with_awards_across_rounds(bundled: Package, organisation: str, dates: set[str]) -> None:
    assert set(awards_of(bundled, organisation).values()) == dates


def test_softbank_2024_award(bundled: Package) -> None:
    award = bundled.frame("awards").set_index("id").loc["jp-cloud-2024-05-softbank"]
    assert (award["amount"], award["basis"]) == (Decimal("42100000000"), "up_to")


def test_physical_ai_fy2026_award_goes_jointly_to_noetra_and_aist(bundled: Package) -> None:
    award = bundled.frame("awards").set_index("id").loc["jp-physical-ai-fm-2026-noetra-aist"]
    assert award["amount"] == Decimal("387300000000")
    # The FY2026 budget line is exact; the share reaching Noetra and AIST is not published (conflict 14),
    # so the award is a ceiling, never "exactly ¥387.3bn to them".
    assert (award["currency"], award["basis"], award["announced"]) == ("JPY", "up_to", "2026-06-30")
    line = bundled.frame("programmes").set_index("id").loc["jp-physical-ai-fm-fy2026"]
    assert (line["amount"], line["basis"]) == (Decimal("387300000000"), "exact")
    assert award["programme_id"] == "jp-physical-ai-fm-fy2026"
    links = bundled.frame("award_recipients")
    mine = links[links["award_id"] == award.name]
    assert list(zip(mine["organisation_id"], mine["role"], strict=True)) == [("noetra", "lead"), ("aist", "member")]


@pytest.mark.parametrize(("table", "column"), sorted(CITED_TABLES.items()))
def test_every_figure_row_is_cited(bundled: Package, table: str, column: str) -> None:
    citations = bundled.frame("citations")
    cited = set(citations[column].dropna())
    ids = set(bundled.frame(table)["id"])
    assert ids, f"{table} is empty"
    assert ids - cited == set()


def test_each_of_the_28_conflicts_is_a_caveat_attached_to_a_row(bundled: Package) -> None:
    caveats = bundled.frame("caveats")
    assert sorted({int(n) for n in caveats["conflict_no"].dropna()}) == list(range(1, 29))
    kinds = caveats.set_index("id")["kind"]
    assert sorted(kinds[kinds == "overlap"].index) == ["caveat-29", "caveat-30"]
    assert sorted(kinds[kinds == "unconfirmed"].index) == ["caveat-19", "caveat-20", "caveat-21"]
    links = bundled.frame("caveat_links")
    attached = links.groupby("caveat_id").size()
    assert {cid: int(attached.get(cid, 0)) for cid in caveats["id"] if attached.get(cid, 0) == 0} == {}


def test_segment_shares_of_one_market_add_to_at_most_100(bundled: Package) -> None:
    shares = bundled.frame("market_shares")
    lows = {
        market: sum((v for v in group["share_low"] if v is not None), Decimal(0))
        for market, group in shares.groupby("market_id")
    }
    assert set(lows) == set(bundled.frame("markets")["id"])
    assert {market: total for market, total in lows.items() if total > 100} == {}
    # The METI framing is the headline: about 30% domestic and about 70% foreign, exactly 100.
    assert lows["jp-cloud-meti-2024"] == Decimal(100)


def test_frictionless_validates_the_package() -> None:
    from frictionless import validate

    report = validate(str(BUNDLED_DATA / "datapackage.json"))
    assert report.valid, report.flatten(["rowNumber", "fieldName", "type", "note"])
    assert report.stats["tasks"] == 13


def test_schema_check_passes_on_the_committed_descriptor(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["schema", "--check"]) == 0
    assert "matches the models" in capsys.readouterr().out


def test_schema_check_fails_on_a_drifted_copy(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    copy = tmp_path / "datapackage.json"
    shutil.copy(BUNDLED_DATA / "datapackage.json", copy)
    assert main(["schema", "--check", "--path", str(copy)]) == 0  # an untouched copy matches
    capsys.readouterr()

    descriptor = json.loads(copy.read_text(encoding="utf-8"))
    awards = next(r for r in descriptor["resources"] if r["name"] == "awards")
    amount = next(f for f in awards["schema"]["fields"] if f["name"] == "amount")
    amount["description"] = "Award in thousands of yen"
    copy.write_text(json.dumps(descriptor, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")

    assert main(["schema", "--check", "--path", str(copy)]) == 1
    out = capsys.readouterr().out
    assert "resource 'awards': 'schema' differs from the models" in out
    assert "has drifted from the models" in out
