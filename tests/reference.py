"""An independent implementation of SPEC section 1, for the tests only; the models never use it.

Written from SPEC's text, not from the SQL: plain Python dates and exact fractions for money; the rules'
numbers are the seeds' (credit_score.rules), which test_seeds.py holds to SPEC's. Input: the raw files'
rows as dicts of text. Output: the mart's rows as dicts of text, formatted like the expected CSVs of the
worked examples.
"""

from __future__ import annotations

import calendar
import csv
import datetime as dt
from collections import Counter, defaultdict
from collections.abc import Iterable
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

from credit_score import rules
from credit_score.contract import contract_columns

# The rules' numbers, read from the seeds and the project's vars (credit_score.rules): how the
# reference scores is its own; which numbers it scores with are the project's (test_seeds.py holds
# the seeds to SPEC's).
RULES = rules.load()
BRANDS = {code: (name, points) for code, (_, name, points) in RULES.brands.items()}  # code -> (name, points)
HARMLESS_REASONS = RULES.free_reasons  # every other reason code, known or not, is penalised
PENALTY = RULES.penalty
SPEND_WINDOW_MONTHS = RULES.spend_window_months
LOOKBACK_MONTHS = RULES.lookback_months
STAR_LABELS = {star.level: star.label for star in RULES.stars}
STAR_THRESHOLDS = {star.level: star.min_score for star in RULES.stars if star.min_score is not None}

# the mart's columns, in order, as its contract declares them
COLUMNS = contract_columns()

ENTITLEMENT_COLUMNS = [
    "credit_limit_yuan",
    "points_multiplier",
    "grace_days_after_arrears",
    "free_sim_replacements_per_year",
    "has_priority_hotline",
    "complaint_response_hours",
]
# SPEC 7's entitlements per star, as the mart's text gives them
ENTITLEMENTS = {
    level: (
        f"{Decimal(row['credit_limit_yuan']):.2f}",
        f"{Decimal(row['points_multiplier']):.2f}",
        int(row["grace_days_after_arrears"]),
        int(row["free_sim_replacements_per_year"]),
        row["has_priority_hotline"].strip().lower() == "true",
        int(row["complaint_response_hours"]),
    )
    for level, row in RULES.entitlements.items()
}


def tenure_band(years: int) -> str:
    return RULES.tenure(years).name


def tenure_points(years: int) -> int:
    return RULES.tenure(years).points


def spend_points(avg: Decimal) -> int:
    return RULES.spend(avg).points


def star_level(score: int) -> int:
    """The highest star whose threshold the score reaches (准星 below every threshold)."""
    return max((level for level, threshold in STAR_THRESHOLDS.items() if score >= threshold), default=0)


def explanation(brand_name: str, years: int, average: Decimal, count: int, parts: tuple, total: int, level: int):
    """SPEC 7: (score_explanation, next_star_label, points_to_next_star), the last two None at 五星."""
    brand, tenure, spend, penalty = (f"{p:+d}" for p in parts)
    text = (
        f"{brand_name} {brand} · 网龄{years}年 {tenure} · 月均¥{average:.2f} {spend} · 停机{count}次 {penalty}"
        f" = {total} → {STAR_LABELS[level]}"
    )
    if level == 5:
        return text, None, None
    return text, STAR_LABELS[level + 1], STAR_THRESHOLDS[level + 1] - total


def _text(value: str | None) -> str | None:
    if value is None:
        return None
    value = value.strip()
    return value or None


def add_months(day: dt.date, months: int) -> dt.date:
    """Month arithmetic clamped to the month's end (2024-02-29 - 12 months = 2023-02-28)."""
    index = day.year * 12 + day.month - 1 + months
    year, month = divmod(index, 12)
    last = calendar.monthrange(year, month + 1)[1]
    return dt.date(year, month + 1, min(day.day, last))


def months_on_net(activation: dt.date, as_of: dt.date) -> int:
    return (
        (as_of.year - activation.year) * 12
        + (as_of.month - activation.month)
        - (1 if as_of.day < activation.day else 0)
    )


def last_complete_month(as_of: dt.date) -> dt.date:
    """First day of the last complete calendar month on as_of."""
    is_month_end = as_of.day == calendar.monthrange(as_of.year, as_of.month)[1]
    first = as_of.replace(day=1)
    return first if is_month_end else add_months(first, -1)


def parse_bill_month(text: str) -> dt.date:
    text = text.strip()
    if len(text) == 6:  # YYYYMM
        return dt.date(int(text[:4]), int(text[4:]), 1)
    return dt.date(int(text[:4]), int(text[5:7]), 1)  # YYYY-MM or YYYY-MM-DD


def round_half_up(value: Fraction) -> Decimal:
    """To 2 decimals, halves away from zero."""
    cents = abs(value) * 100
    whole = int(cents)
    if cents - whole >= Fraction(1, 2):
        whole += 1
    signed = -whole if value < 0 else whole
    return Decimal(signed).scaleb(-2)


def mask(msisdn: str | None) -> str:
    if msisdn is not None and len(msisdn) == 11 and all("0" <= c <= "9" for c in msisdn):
        return f"{msisdn[:3]}****{msisdn[7:]}"
    return ""


def score(
    subscriptions: Iterable[dict], billing: Iterable[dict], suspensions: Iterable[dict], as_of: dt.date
) -> dict[str, dict[str, str]]:
    """The mart's rows keyed by customer_id, every value as text ('' for null)."""
    window_end = last_complete_month(as_of)
    window_start = add_months(window_end, 1 - SPEND_WINDOW_MONTHS)
    lookback_start = add_months(as_of, -LOOKBACK_MONTHS)

    spend: dict[str, Fraction] = defaultdict(Fraction)
    for bill in billing:
        month = parse_bill_month(bill["bill_month"])
        if window_start <= month <= window_end:
            spend[bill["customer_id"].strip()] += Fraction(Decimal(bill["amount"].strip()))

    penalised: dict[str, int] = defaultdict(int)
    for s in suspensions:
        day = dt.datetime.fromisoformat(s["suspended_at"].strip()).date()
        reason = (_text(s.get("reason_code")) or "").upper()
        if lookback_start < day <= as_of and reason not in HARMLESS_REASONS:
            penalised[s["customer_id"].strip()] += 1

    rows: dict[str, dict[str, str]] = {}
    for sub in subscriptions:
        customer = sub["customer_id"].strip()
        activation = dt.date.fromisoformat(sub["activation_date"].strip())
        termination_text = _text(sub.get("termination_date"))
        termination = dt.date.fromisoformat(termination_text) if termination_text else None
        if activation > as_of or (termination is not None and termination <= as_of):
            continue
        code = (_text(sub["brand_code"]) or "").upper()
        brand_name, brand_points = BRANDS[code]
        months = months_on_net(activation, as_of)
        years = months // 12
        activation_month = activation.replace(day=1)
        months_between = (window_end.year - activation_month.year) * 12 + window_end.month - activation_month.month
        spend_months = max(0, min(SPEND_WINDOW_MONTHS, months_between + 1))
        average = round_half_up(spend[customer] / spend_months) if spend_months else Decimal("0.00")
        count = penalised[customer]
        parts = (brand_points, tenure_points(years), spend_points(average), count * PENALTY)
        total = sum(parts)
        level = star_level(total)
        values = [
            customer,
            as_of.isoformat(),
            mask(_text(sub.get("msisdn"))),
            code,
            brand_name,
            activation.isoformat(),
            months,
            years,
            tenure_band(years),
            spend_months,
            f"{average:.2f}",
            count,
            *parts,
            total,
            level,
            STAR_LABELS[level],
            *explanation(brand_name, years, average, count, parts, total, level),
            RULES.version.isoformat(),
        ]
        rows[customer] = dict(zip(COLUMNS, ("" if v is None else str(v) for v in values), strict=True))
    return rows


def entitlements(scored: dict[str, dict[str, str]]) -> dict[str, dict[str, str]]:
    """marts.customer_entitlements for the mart's rows (SPEC 7), keyed by customer_id, values as text."""
    rows = {}
    for customer, row in scored.items():
        values = ENTITLEMENTS[int(row["star_level"])]
        rows[customer] = {
            "customer_id": customer,
            "as_of_date": row["as_of_date"],
            "star_level": row["star_level"],
            "star_label": row["star_label"],
            **dict(zip(ENTITLEMENT_COLUMNS, (str(v) for v in values), strict=True)),
        }
    return rows


WATCHLIST_COLUMNS = [
    "customer_id",
    "as_of_date",
    "msisdn_masked",
    "brand_name",
    "previous_star_level",
    "star_level",
    "previous_avg_monthly_spend",
    "avg_monthly_spend",
    "risk_signals",
    "value_at_risk_yuan",
    "priority",
]


def watchlist(
    previous: dict[str, dict[str, str]],
    current: dict[str, dict[str, str]],
    billing: Iterable[dict],
    suspensions: Iterable[dict],
    as_of: dt.date,
    *,
    min_star: int = 4,
    drop_share: Fraction = Fraction(3, 10),
) -> dict[str, dict[str, str]]:
    """SPEC 7's retention watchlist on as_of, from the scores of the previous as-of date and of as_of
    (score()'s rows), keyed by customer_id, values as text."""
    previous_as_of = dt.date.fromisoformat(next(iter(previous.values()))["as_of_date"]) if previous else None
    watched = {c: row for c, row in previous.items() if int(row["star_level"]) >= min_star}
    window_end = last_complete_month(as_of)
    latest_months = {add_months(window_end, -k) for k in range(3)}
    months_before = {add_months(window_end, -k) for k in range(3, 6)}
    latest: dict[str, Fraction] = defaultdict(Fraction)
    before: dict[str, Fraction] = defaultdict(Fraction)
    for bill in billing:
        customer = bill["customer_id"].strip()
        if customer not in watched:
            continue
        month = parse_bill_month(bill["bill_month"])
        amount = Fraction(Decimal(bill["amount"].strip()))
        if month in latest_months:
            latest[customer] += amount
        elif month in months_before:
            before[customer] += amount
    suspended: set[str] = set()
    for s in suspensions:
        day = dt.datetime.fromisoformat(s["suspended_at"].strip()).date()
        reason = (_text(s.get("reason_code")) or "").upper()
        if previous_as_of < day <= as_of and reason not in HARMLESS_REASONS:
            suspended.add(s["customer_id"].strip())

    listed = []
    for customer, was in watched.items():
        now = current.get(customer)
        if now is None:
            signals = ["left"]
        else:
            signals = [
                name
                for name, holds in (
                    ("star_down", int(now["star_level"]) < int(was["star_level"])),
                    ("spend_drop", before[customer] > 0 and latest[customer] < before[customer] * (1 - drop_share)),
                    ("new_suspension", customer in suspended),
                )
                if holds
            ]
        if signals:
            value = Decimal(was["avg_monthly_spend"]) * 12
            listed.append((customer, was, now, signals, value))
    listed.sort(key=lambda item: (-item[4], item[0].encode()))
    rows = {}
    for priority, (customer, was, now, signals, value) in enumerate(listed, start=1):
        values = [
            customer,
            as_of.isoformat(),
            (now or was)["msisdn_masked"],
            (now or was)["brand_name"],
            was["star_level"],
            now["star_level"] if now else "",
            was["avg_monthly_spend"],
            now["avg_monthly_spend"] if now else "",
            ",".join(signals),
            f"{value:.2f}",
            priority,
        ]
        rows[customer] = dict(zip(WATCHLIST_COLUMNS, (str(v) for v in values), strict=True))
    return rows


STAR_CHANGE_PARTS = ["brand_points", "tenure_points", "spend_points", "suspension_points"]


def star_changes(
    previous: dict[str, dict[str, str]], current: dict[str, dict[str, str]], previous_as_of: dt.date, as_of: dt.date
) -> dict[str, dict[str, str]]:
    """SPEC 7's customer_star_changes on as_of against the previous as-of date (score()'s rows of both),
    keyed by customer_id, values as text ('' for null)."""
    rows = {}
    # SPEC 8: the rules each date was scored under (one version per date, on every row of it)
    versions = [next(iter(scored.values()), {}).get("rule_version", "") for scored in (previous, current)]
    for customer in previous.keys() | current.keys():
        was, now = previous.get(customer), current.get(customer)
        if was is None:
            change = "new"
        elif now is None:
            change = "left"
        else:
            before, after = int(was["star_level"]), int(now["star_level"])
            change = "up" if after > before else "down" if after < before else "same"
        both = was is not None and now is not None
        row = {
            "customer_id": customer,
            "as_of_date": as_of.isoformat(),
            "previous_as_of_date": previous_as_of.isoformat(),
            "previous_star_level": was["star_level"] if was else "",
            "star_level": now["star_level"] if now else "",
            "change_type": change,
            "score_change": str(int(now["credit_score"]) - int(was["credit_score"])) if both else "",
        }
        for part in STAR_CHANGE_PARTS:
            row[f"{part}_change"] = str(int(now[part]) - int(was[part])) if both else ""
        row["previous_rule_version"], row["rule_version"] = versions
        rows[customer] = row
    return rows


def migration_matrix(changes: dict[str, dict[str, str]]) -> dict[tuple[str, str], int]:
    """SPEC 7's star_migration_matrix of one date: {(from star, to star): customers}, '' for new / left."""
    return dict(Counter((row["previous_star_level"], row["star_level"]) for row in changes.values()))


def latest_versions(subscriptions: Iterable[dict]) -> list[dict]:
    """SPEC 6: of each customer's delivered rows, the version with the latest updated_at (compared as
    delivered, YYYY-MM-DD HH:MM:SS); distinct versions tied on it are all rejected (conflicting_versions)."""
    versions: dict[str, set[tuple]] = defaultdict(set)
    for row in subscriptions:
        versions[row["customer_id"].strip()].add(tuple(row.items()))
    latest = []
    for rows in versions.values():
        newest = max(dict(row)["updated_at"] for row in rows)
        tied = [dict(row) for row in rows if dict(row)["updated_at"] == newest]
        if len(tied) == 1:
            latest.append(tied[0])
    return latest


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


def score_folder(folder: Path, as_of: dt.date) -> dict[str, dict[str, str]]:
    return score(
        read_csv(folder / "subscriptions.csv"),
        read_csv(folder / "billing.csv"),
        read_csv(folder / "suspensions.csv"),
        as_of,
    )
