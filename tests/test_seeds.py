"""The rules live in the seeds: editing a CSV and rebuilding changes the scores (or the entitlements)
with no SQL edit, and a broken band or entitlements seed turns the build red, naming the test that
caught it."""

from pathlib import Path

import pytest

from tests import reference
from tests.conftest import MONTH_END
from tests.helpers import EXAMPLES, copy_project, differences, expected_rows, load_and_build, read_mart


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new), encoding="utf-8")


def test_editing_band_seeds_changes_the_scores(tmp_path):
    project = copy_project(tmp_path / "project")
    seeds = project / "seeds"
    edit(seeds / "spend_bands.csv", "120_to_200,120.00,200.00,150", "120_to_200,120.00,200.00,175")
    edit(seeds / "tenure_bands.csv", "5_years_and_more,5,,300", "5_years_and_more,5,,280")
    edit(seeds / "star_levels.csv", "4,四星,Four stars,400,500", "4,四星,Four stars,400,510")
    edit(seeds / "star_levels.csv", "5,五星,Five stars,500,", "5,五星,Five stars,510,")

    report = load_and_build(EXAMPLES, tmp_path / "warehouse.duckdb", MONTH_END, project_dir=project)
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    edited = read_mart(tmp_path / "warehouse.duckdb")
    original = expected_rows(MONTH_END)  # the worked examples' mart under the seeds as delivered

    # W01: 全球通 50 + 5 years (now 280) + 130.00 yuan (now 175) = 505, under the new 五星 threshold of 510
    assert (edited["W01"]["credit_score"], edited["W01"]["star_label"]) == ("505", "四星")
    assert (original["W01"]["credit_score"], original["W01"]["star_label"]) == ("500", "五星")
    for customer, row in original.items():
        delta = (25 if row["spend_points"] == "150" else 0) + (-20 if row["tenure_points"] == "300" else 0)
        assert int(edited[customer]["credit_score"]) == int(row["credit_score"]) + delta, customer


# (seed, delivered line, broken line, the test that must name it)
BROKEN_SEEDS = {
    "overlap": ("spend_bands.csv", "50_to_80,50.00,80.00,50", "50_to_80,45.00,80.00,50", "bands_are_contiguous"),
    "gap": ("tenure_bands.csv", "2_to_3_years,2,3,150", "2_to_3_years,2,2,150", "bands_are_contiguous"),
    "closed_top": ("star_levels.csv", "5,五星,Five stars,500,", "5,五星,Five stars,500,600", "bands_are_contiguous"),
    "points_decrease": ("spend_bands.csv", "over_400,400.00,,250", "over_400,400.00,,190", "values_never_decrease"),
    # SPEC 7: each star has its entitlements exactly once
    "star_without_entitlements": (
        "star_entitlements.csv",
        "3,100.00,2.0,1,3,true,24\n",
        "",
        "relationships_star_levels_star_level",
    ),
    "star_entitled_twice": (
        "star_entitlements.csv",
        "3,100.00,2.0,1,3,true,24\n",
        "3,100.00,2.0,1,3,true,24\n3,120.00,2.0,1,3,true,24\n",
        "primary_key_star_entitlements_star_level",
    ),
}


# Breakages that touch different lines are made together, one build each set (a build costs ~30 s);
# each must still be named by its own test, and nothing else may fail.
@pytest.mark.parametrize(
    "cases",
    [["overlap", "gap", "closed_top", "points_decrease", "star_entitled_twice"], ["star_without_entitlements"]],
    ids=["four bands and a doubled star", "a star without entitlements"],
)
def test_a_broken_seed_fails_the_build_naming_its_test(tmp_path, cases):
    project = copy_project(tmp_path / "project")
    for case in cases:
        seed, old, new, _ = BROKEN_SEEDS[case]
        edit(project / "seeds" / seed, old, new)
    report = load_and_build(EXAMPLES, tmp_path / "warehouse.duckdb", MONTH_END, project_dir=project)
    assert not report.ok and report.published is None
    failed = [r.name for r in report.failed]
    named = {}
    for case in cases:
        seed, _, _, test_name = BROKEN_SEEDS[case]
        named[case] = [n for n in failed if n.startswith(test_name) and seed.removesuffix(".csv") in n]
    assert all(named.values()), (named, failed)
    assert {n for names in named.values() for n in names} == set(failed), "only the broken seeds' tests fail"


# SPEC's numbers, typed from SPEC sections 1 and 7: the one place they are written outside the seeds,
# to hold the seeds to them (the models, the benchmark and the reference all read the seeds)
SPEC_RULES = {
    "brands": {"G001": ("全球通", 50), "G010": ("动感地带", 30), "GS03": ("动感地带", 30), "G002": ("神州行", 20),
               "GS01": ("神州行", 20)},
    "tenure": [("0", "1", 0), ("1", "2", 50), ("2", "3", 150), ("3", "4", 200), ("4", "5", 250), ("5", None, 300)],
    "spend": [(None, "20.00", 0), ("20.00", "50.00", 20), ("50.00", "80.00", 50), ("80.00", "120.00", 100),
              ("120.00", "200.00", 150), ("200.00", "400.00", 200), ("400.00", None, 250)],
    "stars": [(0, "准星", None, 100), (1, "一星", 100, 200), (2, "二星", 200, 300), (3, "三星", 300, 400),
              (4, "四星", 400, 500), (5, "五星", 500, None)],
    "free_reasons": {"CUSTOMER_REQUEST", "LOST", "ADMIN"},
    "penalty": -100,
    "windows": (6, 12),
    # credit line, points multiplier, grace days, free SIM replacements, priority hotline, response hours
    "entitlements": {0: ("0.00", "1.0", 0, 0, False, 72), 1: ("20.00", "1.0", 1, 0, False, 48),
                     2: ("50.00", "1.5", 1, 0, False, 48), 3: ("100.00", "2.0", 1, 3, True, 24),
                     4: ("200.00", "2.5", 1, 3, True, 24), 5: ("500.00", "3.0", 1, 3, True, 12)},
}  # fmt: skip


def test_the_seeds_hold_the_specs_numbers():
    from decimal import Decimal

    from credit_score import rules

    r = rules.load()
    number = lambda text: None if text is None else Decimal(text)  # noqa: E731
    assert {code: (name, points) for code, (_, name, points) in r.brands.items()} == SPEC_RULES["brands"]
    assert [(b.low, b.high, b.points) for b in r.tenure_bands] == [
        (number(low), number(high), points) for low, high, points in SPEC_RULES["tenure"]
    ]
    assert [(b.low, b.high, b.points) for b in r.spend_bands] == [
        (number(low), number(high), points) for low, high, points in SPEC_RULES["spend"]
    ]
    assert [(s.level, s.label, s.min_score, s.max_score) for s in r.stars] == SPEC_RULES["stars"]
    assert r.free_reasons == SPEC_RULES["free_reasons"] and r.penalty == SPEC_RULES["penalty"]
    assert (r.spend_window_months, r.lookback_months) == SPEC_RULES["windows"]
    seeded = {
        level: (Decimal(row["credit_limit_yuan"]), Decimal(row["points_multiplier"]),
                int(row["grace_days_after_arrears"]), int(row["free_sim_replacements_per_year"]),
                row["has_priority_hotline"] == "true", int(row["complaint_response_hours"]))
        for level, row in r.entitlements.items()
    }  # fmt: skip
    assert seeded == {
        level: (Decimal(limit), Decimal(multiplier), *rest)
        for level, (limit, multiplier, *rest) in SPEC_RULES["entitlements"].items()
    }


def test_editing_the_entitlements_seed_changes_the_credit_lines(tmp_path):
    """An operator raises the 五星 credit line: the mart follows the CSV; every other customer keeps
    SPEC 7's entitlements (the project's seed, held to SPEC by the test above)."""
    project = copy_project(tmp_path / "project")
    edit(project / "seeds" / "star_entitlements.csv", "5,500.00,3.0,1,3,true,12", "5,800.00,3.0,1,3,true,12")
    database = tmp_path / "warehouse.duckdb"
    report = load_and_build(EXAMPLES, database, MONTH_END, project_dir=project)
    assert report.ok, [f"{r.name}: {r.message}" for r in report.failed]
    expected = reference.entitlements(read_mart(database))
    for row in expected.values():
        if row["star_level"] == "5":
            row["credit_limit_yuan"] = "800.00"
    assert any(row["star_level"] == "5" for row in expected.values()), "W01 is 五星"
    assert differences(read_mart(database, "marts.customer_entitlements"), expected) == []


def test_entitlements_given_by_the_wrong_star_fail_the_audit(tmp_path):
    """The audit catches a model that hands a customer another star's entitlements (here: the star
    below's): assert_entitlements_are_the_stars names it, and nothing is published."""
    project = copy_project(tmp_path / "project")
    edit(
        project / "models" / "marts" / "customer_entitlements.sql",
        "on scored.star_level = star_entitlements.star_level",
        "on greatest(scored.star_level - 1, 0) = star_entitlements.star_level",
    )
    report = load_and_build(EXAMPLES, tmp_path / "warehouse.duckdb", MONTH_END, project_dir=project)
    assert [r.name for r in report.failed] == ["assert_entitlements_are_the_stars"]
    assert report.published is None


def test_a_build_keeps_unchanged_seeds_and_rebuilds_edited_ones(tmp_path):
    """The seeds and the time spine do not depend on the deliveries: a build whose seed files are those
    of the last successful build neither reloads nor re-tests them (the tests from the mart to a seed
    still run).  An edited seed is loaded again; so is a seed a failed build loaded, once put back."""
    from credit_score.build import build

    project = copy_project(tmp_path / "project")
    database = tmp_path / "warehouse.duckdb"
    band = ("spend_bands.csv", "120_to_200,120.00,200.00,150")

    def built(expect_seeds: bool):
        report = build(MONTH_END, database=database, project_dir=project)
        ran = {r.resource_type for r in report.outcome.results}
        assert ("seed" in ran) == expect_seeds, sorted(ran)
        return report

    first = load_and_build(EXAMPLES, database, MONTH_END, project_dir=project)
    assert first.ok and {r.resource_type for r in first.outcome.results} >= {"seed", "test"}
    again = built(expect_seeds=False)
    assert again.ok and differences(read_mart(database), expected_rows(MONTH_END)) == []
    names = {r.name for r in again.outcome.results}
    assert "relationships_customer_credit_score_star_level__star_level__ref_star_levels_" in names
    assert "dim_dates" not in names and not any(n.startswith("bands_are_contiguous") for n in names)

    edit(project / "seeds" / band[0], band[1], "120_to_200,110.00,200.00,150")  # an overlap: the build fails
    broken = built(expect_seeds=True)
    assert not broken.ok and any(r.name.startswith("bands_are_contiguous") for r in broken.failed)
    edit(project / "seeds" / band[0], "120_to_200,110.00,200.00,150", band[1])  # put back as it was
    restored = built(expect_seeds=True)  # the broken bands are in the warehouse: they are loaded again
    assert restored.ok and differences(read_mart(database), expected_rows(MONTH_END)) == []

    edit(project / "seeds" / band[0], band[1], "120_to_200,120.00,200.00,175")
    edited = built(expect_seeds=True)
    assert edited.ok and read_mart(database)["W01"]["spend_points"] == "175"
