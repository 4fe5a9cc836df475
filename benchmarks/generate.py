"""A valid synthetic data package of any size: the bundled package grown to N awards, the same for a seed.

Copies the bundled package (``data/``) to ``-o DIR`` and appends, streaming with the csv module (a
million awards is about 400 MB of CSV; nothing is held but one programme's rows at a time):

* organisations: synthetic companies (a few universities and institutes), about one per ten awards,
  each in one of the bundled countries;
* programmes: synthetic programmes, each of about ten synthetic rounds of about a hundred awards,
  in one country and its currency (JPY for Japan, EUR for France and the EU ...), with a fiscal-year
  period; most publish a ceiling (``up_to``, ``about`` or ``exact``) rounded up from the sum of the
  awards beneath them, so the ceiling rule is checked and always holds; the others publish no amount;
* awards: N of them, in their round's currency with a basis (or no published amount), announced on
  their round's date (2018 to 2025, inside the ECB rate table), some with a project cost;
* award_recipients: one to three recipients from the award's country, ``sole`` alone, else exactly
  one ``lead`` and the others ``member``;
* citations: one existing source for every synthetic programme, round and award.

Every text field says it is synthetic ("Synthetic ..., not real funding"). The package keeps every
rule of ``aifunding validate`` (no error, no warning from the synthetic rows). Large packages exceed
the default limits in ``aifunding.data.limits``; :func:`limits_env` gives the ``AIFUNDING_LIMIT_*``
variables that admit one, and the command prints them.

    python benchmarks/generate.py -n 100000 -o /tmp/pkg-100k [--seed 0]

The same ``-n`` and ``--seed`` give byte-identical files; ``DIR`` must not exist or be empty.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import random
import shutil
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from decimal import ROUND_CEILING, ROUND_HALF_EVEN, Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data"
MB = 1024 * 1024
DEFAULT_SEED = 0
FILES = ("organisations", "programmes", "awards", "award_recipients", "citations")

# Sizes of the synthetic structure: awards per round, rounds per programme, awards per organisation.
ROUND_AWARDS = (50, 150)
PROGRAMME_ROUNDS = (5, 15)
AWARDS_PER_ORGANISATION = 10
# How many recipients an award has (1 = sole, more = a joint award), with their weights.
RECIPIENT_COUNTS = ((1, 70), (2, 20), (3, 10))
# Announcement dates: inside the ECB table and in the past.
FIRST_DAY = (2018, 1, 1)
LAST_DAY = (2025, 12, 31)

# Each bundled country's currency, and roughly how many units make one US dollar (for plausible sizes).
CURRENCIES = {
    "JP": ("JPY", 150),
    "CA": ("CAD", 1.4),
    "IN": ("INR", 83),
    "GB": ("GBP", 0.8),
    "KR": ("KRW", 1300),
    "SG": ("SGD", 1.35),
    "FR": ("EUR", 0.9),
    "EU": ("EUR", 0.9),
    "US": ("USD", 1),
}
FALLBACK_CURRENCY = ("USD", 1)
PROGRAMME_KINDS = ("compute_subsidy", "model_development", "public_compute", "compute_investment", "data_collection")
ORGANISATION_KINDS = (("company", 85), ("university", 8), ("research_institute", 7))
# Award bases with their weights; None is an award whose amount was never published.
AWARD_BASES = (("exact", 40), ("up_to", 25), ("up_to_about", 15), ("about", 10), (None, 10))
CEILING_BASES = (("up_to", 50), ("about", 20), ("exact", 15), (None, 15))
TOPICS = (
    "GPU cloud capacity for domestic AI developers",
    "training a foundation model on public-sector text",
    "a shared AI supercomputer partition",
    "speech and vision datasets for model training",
    "an inference service for small and medium enterprises",
    "a robotics foundation model",
    "energy-efficient AI data-centre cooling",
)
# Padding so a row weighs about what a real one does (awards.csv averages ~400 bytes a row).
NOTE = (
    "Synthetic row written by benchmarks/generate.py to measure the dashboard and the command line at "
    "scale; not real funding. The text is padded to the length of a typical note in the bundled package."
)


@dataclass
class Summary:
    """What one run of :func:`generate` added, and the size of the result."""

    seed: int
    awards: int = 0
    joint_awards: int = 0
    rounds: int = 0
    programmes: int = 0
    organisations: int = 0
    recipients: int = 0
    citations: int = 0
    csv_bytes: int = 0
    largest_file_bytes: int = 0
    most_rows: int = 0
    seconds: float = 0.0
    rows_by_file: dict[str, int] = field(default_factory=dict)


def csv_files(folder: Path) -> list[Path]:
    return sorted(folder.glob("*.csv"))


def _header(path: Path) -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return next(csv.reader(handle))


def _ids(path: Path, column: str = "id") -> list[str]:
    with path.open(encoding="utf-8", newline="") as handle:
        return [row[column] for row in csv.DictReader(handle)]


def _weighted(rng: random.Random, choices: tuple[tuple, ...]):
    values, weights = zip(*choices, strict=True)
    return rng.choices(values, weights)[0]


def _round_to(value: float, digits: int, rounding: str = ROUND_HALF_EVEN) -> int:
    """``value`` kept to ``digits`` significant digits (rounded up with ROUND_CEILING), as a whole number."""
    if value < 1:
        return 1
    exponent = math.floor(math.log10(value)) - digits + 1
    quantum = Decimal(10) ** max(exponent, 0)
    return int((Decimal(value) / quantum).quantize(Decimal(1), rounding=rounding) * quantum)


def _date(rng: random.Random, start: str | None = None, days: int | None = None) -> str:
    """A day from ``start`` (default FIRST_DAY) within ``days`` (default: up to LAST_DAY), never after LAST_DAY."""
    import datetime

    first = datetime.date.fromisoformat(start) if start else datetime.date(*FIRST_DAY)
    last = datetime.date(*LAST_DAY)
    span = (last - first).days if days is None else min(days, (last - first).days)
    return (first + datetime.timedelta(days=rng.randint(0, max(span, 0)))).isoformat()


def _fiscal_year(day: str, start_month: int) -> int:
    year, month = int(day[:4]), int(day[5:7])
    return year if month >= start_month else year - 1


class _Writers:
    """Appending csv writers for the grown files, checked against each file's header."""

    def __init__(self, folder: Path) -> None:
        self.handles = {}
        self.writers: dict[str, csv.DictWriter] = {}
        self.rows = dict.fromkeys(FILES, 0)
        for name in FILES:
            path = folder / f"{name}.csv"
            header = _header(path)
            with path.open("rb") as handle:  # a file without a final newline would glue our first row to its last
                handle.seek(-1, os.SEEK_END)
                needs_newline = handle.read(1) not in (b"\n", b"\r")
            handle = path.open("a", encoding="utf-8", newline="")
            if needs_newline:
                handle.write("\n")
            self.handles[name] = handle
            # extrasaction="raise": a column renamed in the package fails loudly rather than writing a wrong row.
            self.writers[name] = csv.DictWriter(handle, header, restval="", lineterminator="\n")

    def write(self, name: str, row: dict[str, object]) -> None:
        self.writers[name].writerow(row)
        self.rows[name] += 1

    def close(self) -> None:
        for handle in self.handles.values():
            handle.close()


class _Generator:
    """Draws the synthetic rows from one ``random.Random``, in a fixed order, so a seed gives the same files."""

    def __init__(self, folder: Path, n: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = n
        self.sources = _ids(folder / "sources.csv")
        with (folder / "countries.csv").open(encoding="utf-8", newline="") as handle:
            self.fy_start = {row["id"]: int(row["fiscal_year_start_month"]) for row in csv.DictReader(handle)}
        self.countries = sorted(self.fy_start)
        self.pools: dict[str, list[str]] = {country: [] for country in self.countries}
        self.summary = Summary(seed=seed)

    def citation(self, column: str, row_id: str) -> dict[str, object]:
        return {column: row_id, "source_id": self.rng.choice(self.sources), "supports": "synthetic citation"}

    def organisations(self) -> Iterator[dict[str, object]]:
        # At least three per country, so every joint award can have three different recipients.
        count = max(3 * len(self.countries), math.ceil(self.n / AWARDS_PER_ORGANISATION))
        for i in range(count):
            country = self.countries[i % len(self.countries)]
            org_id = f"synthetic-org-{i + 1:06d}"
            self.pools[country].append(org_id)
            kind = _weighted(self.rng, ORGANISATION_KINDS)
            yield {
                "id": org_id,
                "name_en": f"Synthetic {kind.replace('_', ' ').title()} {i + 1:06d} (synthetic, not real)",
                "name_ja": f"合成組織{i + 1:06d}" if self.rng.random() < 0.3 else "",
                "kind": kind,
                "country_id": country,
                "note": "Synthetic organisation written by benchmarks/generate.py; not a real recipient.",
            }

    def recipients(self, country: str) -> list[str]:
        pool = self.pools[country]
        count = _weighted(self.rng, RECIPIENT_COUNTS)
        chosen: list[str] = []
        while len(chosen) < count:  # skewed to the front of the pool: a few large recipients, a long tail
            org = pool[int(len(pool) * self.rng.random() ** 2)]
            if org not in chosen:
                chosen.append(org)
        return chosen

    def award(self, number: int, round_id: str, currency: str, per_usd: float, announced: str) -> dict:
        rng = self.rng
        basis = _weighted(rng, AWARD_BASES)
        row: dict[str, object] = {
            "id": f"synthetic-award-{number:07d}",
            "programme_id": round_id,
            "purpose_en": f"Synthetic project {number}: {rng.choice(TOPICS)} (not real funding)",
            "purpose_ja": f"合成プロジェクト{number}" if rng.random() < 0.3 else "",
            "announced": announced,
            "note": NOTE,
        }
        amount = 0
        if basis is not None:
            usd = 10 ** rng.uniform(5, 7.7)  # about 100 thousand to 50 million US dollars
            amount = _round_to(usd * per_usd, 2 if basis in ("about", "up_to_about") else 3)
            row.update(amount=amount, currency=currency, basis=basis)
            if rng.random() < 0.1:
                row.update(project_cost=_round_to(amount * rng.uniform(1.5, 3), 2), project_cost_basis="about")
        return {"row": row, "amount": amount}

    def ceiling(self, total: int) -> dict[str, object]:
        """Amount, currency-free: a ceiling at or above ``total`` (rounded up), or no amount at all."""
        basis = _weighted(self.rng, CEILING_BASES)
        if basis is None or total == 0:
            return {}
        return {"amount": _round_to(total * self.rng.uniform(1.0, 1.3), 3, ROUND_CEILING), "basis": basis}

    def programme(self, p: int, first_award: int) -> tuple[list[tuple[str, dict]], int]:
        """All rows of synthetic programme ``p``, its awards numbered from ``first_award``; and how many awards."""
        rng = self.rng
        country = rng.choice(self.countries)
        currency, per_usd = CURRENCIES.get(country, FALLBACK_CURRENCY)
        kind = rng.choice(PROGRAMME_KINDS)
        programme_id = f"synthetic-programme-{p:05d}"
        announced = _date(rng)
        start_fy = _fiscal_year(announced, self.fy_start[country])
        end_fy = start_fy + rng.randint(0, 4)
        rows: list[tuple[str, dict]] = []
        total = 0
        number = first_award
        for _ in range(rng.randint(*PROGRAMME_ROUNDS)):
            remaining = self.n - (number - 1)
            if remaining <= 0:
                break
            self.summary.rounds += 1
            round_id = f"synthetic-round-{self.summary.rounds:06d}"
            round_day = _date(rng, announced, days=365 * (end_fy - start_fy + 1))
            awards = [
                self.award(number + i, round_id, currency, per_usd, round_day)
                for i in range(min(rng.randint(*ROUND_AWARDS), remaining))
            ]
            number += len(awards)
            round_total = sum(a["amount"] for a in awards)
            total += round_total
            ceiling = self.ceiling(round_total)
            rows.append(
                (
                    "programmes",
                    {
                        "id": round_id,
                        "parent_id": programme_id,
                        "level": "round",
                        "name_en": f"Synthetic round {self.summary.rounds} (not real funding)",
                        "country_id": country,
                        "funding_body": "Synthetic funding body",
                        "kind": kind,
                        "announced": round_day,
                        "currency": currency if ceiling else "",
                        "status": "active",
                        "note": "Synthetic round: its ceiling, when it has one, is at least the sum of its awards.",
                        **ceiling,
                    },
                )
            )
            rows.append(("citations", self.citation("programme_id", round_id)))
            for award in awards:
                row = award["row"]
                rows.append(("awards", row))
                recipients = self.recipients(country)
                if len(recipients) > 1:
                    self.summary.joint_awards += 1
                for i, org in enumerate(recipients):
                    role = "sole" if len(recipients) == 1 else ("lead" if i == 0 else "member")
                    rows.append(("award_recipients", {"award_id": row["id"], "organisation_id": org, "role": role}))
                rows.append(("citations", self.citation("award_id", row["id"])))
        ceiling = self.ceiling(total)
        head = {
            "id": programme_id,
            "level": "programme",
            "name_en": f"Synthetic programme {p} (generated for benchmarks; not real funding)",
            "name_ja": f"合成プログラム{p}" if rng.random() < 0.3 else "",
            "country_id": country,
            "funding_body": "Synthetic ministry",
            "kind": kind,
            "announced": announced,
            "currency": currency if ceiling else "",
            "period_start_fy": start_fy,
            "period_end_fy": end_fy,
            "period_years": end_fy - start_fy + 1,
            "budget_source": "Synthetic budget line",
            "status": "active",
            "note": "Synthetic programme: its ceiling, when it has one, is at least the sum of the awards beneath it.",
            **ceiling,
        }
        # The programme row first, then its rounds and their awards, as a person would write them.
        return [("programmes", head), ("citations", self.citation("programme_id", programme_id)), *rows], (
            number - first_award
        )


def generate(n: int, out: str | Path, seed: int = DEFAULT_SEED) -> Summary:
    """Copy the bundled package to ``out`` (absent or empty) and grow it by ``n`` synthetic awards.

    Returns:
        What was added and the size of the result.

    Raises:
        FileExistsError: ``out`` holds files already.
        ValueError: ``n`` is negative.
    """
    if n < 0:
        raise ValueError(f"the number of awards must be 0 or more, not {n}")
    out = Path(out)
    if out.resolve() == DATA.resolve():
        raise ValueError("refusing to write into the bundled package")
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty")
    start = time.perf_counter()
    shutil.copytree(DATA, out, dirs_exist_ok=True)
    generator = _Generator(out, n, seed)
    writers = _Writers(out)
    try:
        for row in generator.organisations():
            writers.write("organisations", row)
        number, p = 1, 0
        while number <= n:
            p += 1
            rows, added = generator.programme(p, number)
            for name, row in rows:
                writers.write(name, row)
            number += added
    finally:
        writers.close()
    summary = generator.summary
    summary.awards = n
    summary.programmes = p
    summary.organisations = writers.rows["organisations"]
    summary.recipients = writers.rows["award_recipients"]
    summary.citations = writers.rows["citations"]
    sizes = {path.name: path.stat().st_size for path in csv_files(out)}
    summary.csv_bytes = sum(sizes.values())
    summary.largest_file_bytes = max(sizes.values())
    summary.rows_by_file = {path.stem: count_lines(path) - 1 for path in csv_files(out)}
    summary.most_rows = max(summary.rows_by_file.values())
    summary.seconds = time.perf_counter() - start
    return summary


def count_lines(path: Path) -> int:
    """Lines of a file (an upper bound on its records, since a quoted note may span lines), read in blocks."""
    count = 0
    with path.open("rb") as handle:
        while block := handle.read(MB):
            count += block.count(b"\n")
    return count


def package_size(folder: Path) -> tuple[int, int, int]:
    """(bytes of every CSV, bytes of the largest, lines of the longest minus its header) of a package."""
    sizes = [path.stat().st_size for path in csv_files(folder)]
    return sum(sizes), max(sizes), max(count_lines(path) - 1 for path in csv_files(folder))


def limits_env(folder: Path) -> dict[str, str]:
    """The ``AIFUNDING_LIMIT_*`` variables that admit this package, with room to spare; empty when the defaults do.

    Only the limits the package exceeds (package and file bytes, rows per table) are raised, to twice its size.
    """
    from aifunding.data.limits import ENV_PREFIX, Limits

    total, largest, rows = package_size(folder)
    defaults = Limits()
    env: dict[str, str] = {}
    for name, needed in (("package_bytes", total), ("file_bytes", largest), ("rows", rows)):
        if needed > getattr(defaults, name):
            env[ENV_PREFIX + name.upper()] = str(2 * needed)
    return env


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, required=True, help="synthetic awards to add to the bundled package")
    parser.add_argument("-o", "--output", type=Path, required=True, help="folder to write (absent or empty)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help=f"random seed (default {DEFAULT_SEED})")
    args = parser.parse_args(argv)
    try:
        s = generate(args.n, args.output, args.seed)
    except (FileExistsError, ValueError) as exc:
        print(f"generate.py: {exc}", file=sys.stderr)
        return 2
    print(
        f"wrote {args.output}: {s.awards:,} synthetic awards ({s.joint_awards:,} joint) in {s.rounds:,} rounds of "
        f"{s.programmes:,} programmes, {s.organisations:,} organisations, {s.recipients:,} recipients, "
        f"{s.citations:,} citations; {s.csv_bytes / MB:.1f} MB of CSV in {s.seconds:.1f} s (seed {s.seed})"
    )
    env = limits_env(args.output)
    if env:
        settings = " ".join(f"{k}={v}" for k, v in env.items())
        print(f"it exceeds the default limits (aifunding.data.limits); load it with: {settings}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
