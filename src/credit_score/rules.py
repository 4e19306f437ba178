"""The scoring rules as the seeds hold them (seeds/*.csv) and the windows as dbt_project.yml's vars set
them, for the Python that needs the numbers: the benchmark's one-statement bound and pandas variant,
and the tests' independent reference. The models read the same files, so a rule changes in one place:
its seed. (tests/test_seeds.py holds the seeds to SPEC's numbers.)

A rule seed may hold several versions of its rows (SPEC 8), each in force from the first day of a month,
`effective_from`: the rules of a date are, of every seed, the rows of the latest version on or before it
(macros/rules.sql does the same in SQL)."""

from __future__ import annotations

import csv
import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path

from credit_score.settings import PROJECT_DIR, project_var


@dataclass(frozen=True)
class Band:
    """A band of a seed: its name, bounds (None: open) and points. Tenure: [low, high) in years;
    spend: (low, high] in yuan, on the rounded average."""

    name: str
    low: Decimal | None
    high: Decimal | None
    points: int


@dataclass(frozen=True)
class Star:
    level: int
    label: str
    min_score: int | None  # inclusive; None for the lowest star
    max_score: int | None  # exclusive; None for the top star


@dataclass(frozen=True)
class Rules:
    brands: dict[str, tuple[str, str, int]]  # brand_code -> (brand_key, brand_name, points)
    tenure_bands: tuple[Band, ...]
    spend_bands: tuple[Band, ...]
    stars: tuple[Star, ...]  # lowest first
    free_reasons: frozenset[str]  # suspension reasons that cost nothing; every other code is penalised
    penalty: int  # points per penalised suspension (signed)
    entitlements: dict[int, dict[str, str]]  # star_level -> the seed's row, as text
    spend_window_months: int
    lookback_months: int
    version: dt.date  # the rule version: the latest effective_from in force over every rule seed

    def tenure(self, years: int) -> Band:
        return next(b for b in self.tenure_bands if (b.low or 0) <= years and (b.high is None or years < b.high))

    def spend(self, average: Decimal) -> Band:
        return next(
            b for b in self.spend_bands if (b.low is None or average > b.low) and (b.high is None or average <= b.high)
        )

    def star(self, score: int) -> Star:
        return next(
            s for s in self.stars
            if (s.min_score is None or score >= s.min_score) and (s.max_score is None or score < s.max_score)
        )  # fmt: skip

    def next_star(self, level: int) -> Star | None:
        return next((s for s in self.stars if s.level == level + 1), None)


# the rules as the project ships them: in force before any adopted version
SHIPPED_VERSION = dt.date(1900, 1, 1)
# the seeds the score is computed from, each versioned (star_entitlements is what a star gives)
RULE_SEEDS = ("brands", "brand_codes", "scoring_parameters", "spend_bands", "star_levels", "suspension_reasons",
              "tenure_bands")  # fmt: skip


def versions(seeds: Path, name: str) -> dict[dt.date, list[dict[str, str]]]:
    """A rule seed's rows by the version they belong to (its effective_from), oldest first."""
    with (seeds / f"{name}.csv").open(newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    by_version: dict[dt.date, list[dict[str, str]]] = {}
    for row in rows:
        by_version.setdefault(dt.date.fromisoformat(row.pop("effective_from")), []).append(row)
    return dict(sorted(by_version.items()))


def in_force(seeds: Path, name: str, as_of: dt.date | None) -> tuple[dt.date, list[dict[str, str]]]:
    """The version of a rule seed in force on as_of (None: the newest) and its rows."""
    held = [(v, rows) for v, rows in versions(seeds, name).items() if as_of is None or v <= as_of]
    if not held:
        raise ValueError(f"{name}.csv has no version in force on {as_of}")
    return held[-1]


def _rows(seeds: Path, name: str, as_of: dt.date | None = None) -> list[dict[str, str]]:
    if name not in RULE_SEEDS:
        with (seeds / f"{name}.csv").open(newline="", encoding="utf-8") as f:
            return list(csv.DictReader(f))
    return in_force(seeds, name, as_of)[1]


def _number(text: str) -> Decimal | None:
    return Decimal(text) if text.strip() else None


@cache
def load(seeds: Path = PROJECT_DIR / "seeds", as_of: dt.date | None = None) -> Rules:
    """The rules of a seeds folder (default: the project's) in force on as_of (None: the newest version)."""
    brands = {b["brand_key"]: b for b in _rows(seeds, "brands", as_of)}
    codes = {}
    for c in _rows(seeds, "brand_codes", as_of):
        brand = brands[c["brand_key"]]
        codes[c["brand_code"]] = (c["brand_key"], brand["brand_name"], int(brand["brand_points"]))
    tenure = tuple(
        Band(r["tenure_band"], _number(r["min_years_inclusive"]), _number(r["max_years_exclusive"]),
             int(r["tenure_points"]))
        for r in _rows(seeds, "tenure_bands", as_of)
    )  # fmt: skip
    spend = tuple(
        Band(r["spend_band"], _number(r["min_yuan_exclusive"]), _number(r["max_yuan_inclusive"]),
             int(r["spend_points"]))
        for r in _rows(seeds, "spend_bands", as_of)
    )  # fmt: skip
    stars = tuple(
        sorted(
            (Star(int(r["star_level"]), r["star_label"],
                  int(r["min_score_inclusive"]) if r["min_score_inclusive"] else None,
                  int(r["max_score_exclusive"]) if r["max_score_exclusive"] else None)
             for r in _rows(seeds, "star_levels", as_of)),
            key=lambda s: s.level,
        )
    )  # fmt: skip
    parameters = {p["parameter_name"]: p["parameter_value"] for p in _rows(seeds, "scoring_parameters", as_of)}
    return Rules(
        brands=codes,
        tenure_bands=tenure,
        spend_bands=spend,
        stars=stars,
        free_reasons=frozenset(
            r["reason_code"]
            for r in _rows(seeds, "suspension_reasons", as_of)
            if r["is_penalised"].strip().lower() != "true"
        ),
        penalty=int(parameters["suspension_penalty_points"]),
        entitlements={int(r["star_level"]): r for r in _rows(seeds, "star_entitlements")},
        spend_window_months=int(project_var("spend_window_months")),
        lookback_months=int(project_var("suspension_lookback_months")),
        version=max(in_force(seeds, name, as_of)[0] for name in RULE_SEEDS),
    )
