"""`credit-score explain CUSTOMER_ID [--as-of D] [--json]`: why a published star is what it is (SPEC 8).

For the row published for the customer on D (the history; D defaults to the newest published date):
the explanation line, each part with the rule row that gave it, the spend window's months with their
sums and the bills behind them (bill id, amount, delivery, file line), the suspensions counted and
those not counted with why, the star's band and its entitlements.  Only the masked number is shown.

What was published comes from what BI reads; the bills, suspensions and rule rows from where the
warehouse builds (DuckDB: the work file, the owner's; PostgreSQL: the intermediate and seeds schemas).
The parts are recomputed from them and compared with what was published: a delivery or a rule changed
since D was published says so, instead of explaining numbers that no longer add up.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import TYPE_CHECKING

from credit_score.deliveries import window_months
from credit_score.settings import project_var
from credit_score.sql import QueryFailed

if TYPE_CHECKING:
    from credit_score.engines import Provenance


class NotExplained(Exception):
    """The customer or the date cannot be explained; the message says why and what can be."""


def text(value: object) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def reader(target: str | None, database: Path | None = None) -> Provenance:
    """The engine's reader of what was published and of the rows behind it (Engine.provenance)."""
    from credit_score import engines

    try:
        return engines.get(target, database=database).provenance()
    except QueryFailed as e:
        raise NotExplained(str(e)) from None


def _rows(r: Provenance, sql: str) -> list[dict]:
    """Rows as dicts: the SQL's select list names its columns `a as name` in order."""
    rows = r.query(sql)
    names = [part.rsplit(" as ", 1)[1].strip() for part in _select_list(sql)]
    return [dict(zip(names, row, strict=True)) for row in rows]


def _select_list(sql: str) -> list[str]:
    head = sql.split(" from ", 1)[0].removeprefix("select ").strip()
    parts, depth, current = [], 0, ""
    for char in head:
        depth += char == "("
        depth -= char == ")"
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    return [*parts, current]


def _date(value) -> dt.date:
    return (
        value
        if isinstance(value, dt.date) and not isinstance(value, dt.datetime)
        else dt.date.fromisoformat(str(value)[:10])
    )


def _money(value) -> Decimal:
    return Decimal(str(value)).quantize(Decimal("0.01"))


def explain(
    customer_id: str, as_of: dt.date | None = None, *, target: str | None = None, database: Path | None = None
) -> dict:
    """What was published for the customer on as_of (default: the newest published date), and why
    (database: DuckDB's served file, default $CREDIT_SCORE_DUCKDB)."""
    r = reader(target, database)
    try:
        return _explain(r, customer_id, as_of)
    finally:
        r.close()


def _explain(r: Provenance, customer_id: str, as_of: dt.date | None) -> dict:
    history = r.published("customer_credit_score_history")
    dates = [_date(d) for (d,) in r.query(f"select distinct as_of_date from {history} order by 1")]
    if not dates:
        raise NotExplained("nothing is published yet (run `credit-score build`)")
    day = as_of or dates[-1]
    if day not in dates:
        raise NotExplained(f"{day} was never published; the published dates: {_span(dates)}")
    published = _rows(
        r,
        "select customer_id as customer_id, msisdn_masked as msisdn_masked, brand_code as brand_code, "
        "brand_name as brand_name, activation_date as activation_date, months_on_net as months_on_net, "
        "tenure_years as tenure_years, spend_months as spend_months, avg_monthly_spend as avg_monthly_spend, "
        "suspension_count as suspension_count, brand_points as brand_points, tenure_points as tenure_points, "
        "spend_points as spend_points, suspension_points as suspension_points, credit_score as credit_score, "
        "star_level as star_level, star_label as star_label, rule_version as rule_version "
        f"from {history} where customer_id = {text(customer_id)} and as_of_date = date {text(day)}",
    )
    if not published:
        scored = [_date(d) for (d,) in r.query(
            f"select as_of_date from {history} where customer_id = {text(customer_id)} order by 1"
        )]  # fmt: skip
        where = f"scored on {_span(scored)}" if scored else "never scored (not an accepted customer in scope)"
        raise NotExplained(f"{customer_id} was not scored on {day}: {where}")
    row = published[0]
    parts = {
        "brand": _brand(r, row, day),
        "tenure": _tenure(r, row, day),
        "spend": _spend(r, row, customer_id, day),
        "suspensions": _suspensions(r, row, customer_id, day),
    }
    star = _star(r, row, day)
    changed = [
        f"{name}: published {part['published_points']:+d}, the loaded data and rules give {part['points']:+d}"
        for name, part in parts.items()
        if part["points"] != part["published_points"]
    ]
    return {
        "customer_id": customer_id,
        "msisdn_masked": row["msisdn_masked"],
        "as_of_date": day.isoformat(),
        "newest_published_date": dates[-1].isoformat(),
        "explanation": explanation_line(row),
        "credit_score": int(row["credit_score"]),
        "star_level": int(row["star_level"]),
        "star_label": row["star_label"],
        "rule_version": _plain(row["rule_version"]),
        "parts": parts,
        "star": star,
        "changed_since_published": changed,
    }


def _span(dates: list[dt.date]) -> str:
    shown = ", ".join(d.isoformat() for d in dates[-6:])
    return shown if len(dates) <= 6 else f"{len(dates)} dates, the last {shown}"


def explanation_line(row: dict) -> str:
    """The mart's score_explanation (models/intermediate/int_customers_scored.sql), from a history row."""
    return (
        f"{row['brand_name']} {int(row['brand_points']):+d} · 网龄{int(row['tenure_years'])}年 "
        f"{int(row['tenure_points']):+d} · 月均¥{_money(row['avg_monthly_spend'])} {int(row['spend_points']):+d} · "
        f"停机{int(row['suspension_count'])}次 {int(row['suspension_points']):+d} = {int(row['credit_score'])} → "
        f"{row['star_label']}"
    )


def _in_force(r: Provenance, seed: str, day: dt.date, alias: str | None = None) -> str:
    """A rule seed's rows of the version in force on day (SPEC 8; macros/rules.sql), as a subquery
    named alias (default: the seed's name)."""
    table = r.work("seeds", seed)
    return (
        f"(select * from {table} where effective_from = "
        f"(select max(effective_from) from {table} where effective_from <= date {text(day)})) as {alias or seed}"
    )


def _brand(r: Provenance, row: dict, day: dt.date) -> dict:
    found = _rows(
        r,
        "select b.brand_key as brand_key, b.brand_name as brand_name, b.brand_points as brand_points, "
        "b.effective_from as rule_version "
        f"from {_in_force(r, 'brand_codes', day, 'c')} "
        f"join {_in_force(r, 'brands', day, 'b')} on c.brand_key = b.brand_key "
        f"where c.brand_code = {text(row['brand_code'])}",
    )
    rule = found[0] if found else None
    return {
        "brand_code": row["brand_code"],
        "rule": None if rule is None else {"seed": "brands", **{k: _plain(v) for k, v in rule.items()}},
        "points": int(rule["brand_points"]) if rule else 0,
        "published_points": int(row["brand_points"]),
    }


def _tenure(r: Provenance, row: dict, day: dt.date) -> dict:
    years = int(row["tenure_years"])
    found = _rows(
        r,
        "select tenure_band as tenure_band, min_years_inclusive as min_years_inclusive, "
        "max_years_exclusive as max_years_exclusive, tenure_points as tenure_points, effective_from as rule_version "
        f"from {_in_force(r, 'tenure_bands', day)} where min_years_inclusive <= {years} "
        f"and (max_years_exclusive is null or {years} < max_years_exclusive)",
    )
    rule = found[0] if found else None
    return {
        "activation_date": _date(row["activation_date"]).isoformat(),
        "months_on_net": int(row["months_on_net"]),
        "tenure_years": years,
        "rule": None if rule is None else {"seed": "tenure_bands", **{k: _plain(v) for k, v in rule.items()}},
        "points": int(rule["tenure_points"]) if rule else 0,
        "published_points": int(row["tenure_points"]),
    }


def _spend(r: Provenance, row: dict, customer_id: str, day: dt.date) -> dict:
    months = window_months(day, project_var("spend_window_months"))[1:]  # the window, without the month before
    first, last = months[0], months[-1]
    bills = _rows(
        r,
        "select bill_month as bill_month, bill_id as bill_id, amount as amount, delivery_id as delivery_id, "
        "file_line as file_line, copies as copies "
        f"from {r.work('intermediate', 'int_billing_validated')} where customer_id = {text(customer_id)} "
        f"and rejection_reason is null and bill_month between date {text(first)} and date {text(last)} "
        "order by bill_month, delivery_id, file_line",
    )
    by_month = []
    for month in months:
        held = [b for b in bills if _date(b["bill_month"]) == month]
        by_month.append(
            {
                "month": f"{month:%Y-%m}",
                "sum": str(sum((_money(b["amount"]) for b in held), Decimal("0.00"))),
                "bills": [
                    {
                        "bill_id": b["bill_id"],
                        "amount": str(_money(b["amount"])),
                        "delivery_id": b["delivery_id"],
                        "file_line": int(b["file_line"]),
                        "exact_copies": int(b["copies"] or 1) - 1,
                    }
                    for b in held
                ],
            }
        )
    total = sum((Decimal(m["sum"]) for m in by_month), Decimal("0.00"))
    activation_month = _date(row["activation_date"]).replace(day=1)
    counted = sum(1 for month in months if month >= activation_month)
    average = (total / counted).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP) if counted else Decimal("0.00")
    found = _rows(
        r,
        "select spend_band as spend_band, min_yuan_exclusive as min_yuan_exclusive, "
        "max_yuan_inclusive as max_yuan_inclusive, spend_points as spend_points, effective_from as rule_version "
        f"from {_in_force(r, 'spend_bands', day)} where (min_yuan_exclusive is null or {average} > min_yuan_exclusive) "
        f"and (max_yuan_inclusive is null or {average} <= max_yuan_inclusive)",
    )
    rule = found[0] if found else None
    return {
        "window": [f"{first:%Y-%m}", f"{last:%Y-%m}"],
        "months_counted": counted,
        "total": str(total),
        "average": str(average),
        "published_average": str(_money(row["avg_monthly_spend"])),
        "months": by_month,
        "rule": None if rule is None else {"seed": "spend_bands", **{k: _plain(v) for k, v in rule.items()}},
        "points": int(rule["spend_points"]) if rule else 0,
        "published_points": int(row["spend_points"]),
    }


def _suspensions(r: Provenance, row: dict, customer_id: str, day: dt.date) -> dict:
    lookback = project_var("suspension_lookback_months")
    start = _minus_months(day, lookback)
    found = _rows(
        r,
        "select s.suspended_date as suspended_date, s.reason_code as reason_code, "
        "coalesce(reasons.reason_name, '') as reason_name, reasons.is_penalised as is_penalised, "
        "s.delivery_id as delivery_id, s.file_line as file_line "
        f"from {r.work('intermediate', 'int_suspensions_validated')} as s "
        f"left join {_in_force(r, 'suspension_reasons', day, 'reasons')} on s.reason_code = reasons.reason_code "
        f"where s.customer_id = {text(customer_id)} and s.rejection_reason is null "
        f"and s.suspended_date <= date {text(day)} order by s.suspended_date, s.delivery_id, s.file_line",
    )
    penalty = _rows(
        r,
        "select parameter_value as points "
        f"from {_in_force(r, 'scoring_parameters', day)} where parameter_name = 'suspension_penalty_points'",
    )
    per_suspension = int(Decimal(str(penalty[0]["points"]))) if penalty else 0
    events = []
    for s in found:
        when = _date(s["suspended_date"])
        known = s["is_penalised"] is not None
        if when <= start:
            why = f"outside the lookback (on or before {start})"
        elif known and not _truthy(s["is_penalised"]):
            why = "a free reason"
        else:
            why = None
        events.append(
            {
                "suspended_date": when.isoformat(),
                "reason_code": s["reason_code"],
                "reason_name": s["reason_name"] or ("unknown code: penalised" if not known else ""),
                "counted": why is None,
                "not_counted_because": why,
                "delivery_id": s["delivery_id"],
                "file_line": int(s["file_line"]),
            }
        )
    counted = sum(1 for e in events if e["counted"])
    return {
        "lookback": [start.isoformat(), day.isoformat()],
        "counted": counted,
        "published_count": int(row["suspension_count"]),
        "points_per_suspension": per_suspension,
        "events": events,
        "points": counted * per_suspension,
        "published_points": int(row["suspension_points"]),
    }


def _star(r: Provenance, row: dict, day: dt.date) -> dict:
    level = int(row["star_level"])
    bands = _rows(
        r,
        "select star_level as star_level, star_label as star_label, min_score_inclusive as min_score_inclusive, "
        "max_score_exclusive as max_score_exclusive, effective_from as rule_version "
        f"from {_in_force(r, 'star_levels', day)} order by star_level",
    )
    entitled = _rows(
        r,
        "select credit_limit_yuan as credit_limit_yuan, points_multiplier as points_multiplier, "
        "grace_days_after_arrears as grace_days_after_arrears, "
        "free_sim_replacements_per_year as free_sim_replacements_per_year, "
        "has_priority_hotline as has_priority_hotline, complaint_response_hours as complaint_response_hours "
        f"from {r.work('seeds', 'star_entitlements')} where star_level = {level}",
    )
    band = next((b for b in bands if int(b["star_level"]) == level), None)
    above = next((b for b in bands if int(b["star_level"]) == level + 1), None)
    return {
        "rule": None if band is None else {"seed": "star_levels", **{k: _plain(v) for k, v in band.items()}},
        "next_star": None
        if above is None
        else {
            "star_label": above["star_label"],
            "points_needed": int(above["min_score_inclusive"]) - int(row["credit_score"]),
        },
        "entitlements": {k: _plain(v) for k, v in entitled[0].items()} if entitled else None,
    }


def _truthy(value) -> bool:
    return value is True or str(value).lower() in ("true", "t", "1")


def _plain(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.date):
        return value.isoformat()
    return value


def _minus_months(day: dt.date, months: int) -> dt.date:
    """day minus months, clamped to the month's end (SPEC 1: 2024-02-29 minus 12 months is 2023-02-28)."""
    import calendar

    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    return dt.date(year, month + 1, min(day.day, calendar.monthrange(year, month + 1)[1]))


def render(found: dict) -> str:
    """The explanation as a person reads it: the line, then each part, the star, the rules."""
    newest = found["newest_published_date"]
    lines = [
        f"{found['customer_id']} ({found['msisdn_masked']}), as published for {found['as_of_date']}"
        + ("" if found["as_of_date"] == newest else f" (the newest published date is {newest})"),
        f"  {found['explanation']}",
        "",
    ]
    p = found["parts"]
    lines += [_brand_line(p["brand"]), _tenure_line(p["tenure"]), *_spend_lines(p["spend"])]
    lines += [*_suspension_lines(p["suspensions"]), *_star_lines(found)]
    lines.append(
        f"rules        version {found['rule_version']} (the rule seeds' rows in force on {found['as_of_date']})"
    )
    if found["changed_since_published"]:
        lines.append(
            "CHANGED since it was published (a delivery or a rule seed changed; rebuild the date to publish what "
            "they give now): " + "; ".join(found["changed_since_published"])
        )
    return "\n".join(lines)


def _brand_line(b: dict) -> str:
    rule = b["rule"]
    return (
        f"brand        {b['brand_code']} → "
        + (f"{rule['brand_key']} {rule['brand_name']} (seeds brand_codes, brands)" if rule else "no brand row")
        + f"   {b['published_points']:+d}"
    )


def _tenure_line(t: dict) -> str:
    rule = t["rule"]
    top = "∞" if not rule or rule["max_years_exclusive"] is None else rule["max_years_exclusive"]
    bounds = f"[{rule['min_years_inclusive']}, {top}) years" if rule else "no band"
    return (
        f"tenure       activated {t['activation_date']}: {t['months_on_net']} months on net, "
        f"{t['tenure_years']} full years; "
        f"band {rule['tenure_band'] if rule else '-'} {bounds} (seed tenure_bands)   {t['published_points']:+d}"
    )


def _spend_lines(s: dict) -> list[str]:
    """The window's average and band, then each month with its bills (delivery and line)."""
    rule = s["rule"]
    low = rule["min_yuan_exclusive"] if rule and rule["min_yuan_exclusive"] is not None else "-∞"
    high = rule["max_yuan_inclusive"] if rule and rule["max_yuan_inclusive"] is not None else "∞"
    lines = [
        f"spend        window {s['window'][0]} to {s['window'][1]}, {s['months_counted']} months counted: "
        f"¥{s['total']} / {s['months_counted']} = ¥{s['published_average']}; "
        f"band {rule['spend_band'] if rule else '-'} ({low}, {high}] (seed spend_bands)   {s['published_points']:+d}"
    ]
    for month in s["months"]:
        bills = month["bills"]
        lines.append(f"  {month['month']}  {'¥' + month['sum']:>11}" + ("  no bill" if not bills else ""))
        for bill in bills:
            copies = f", and {bill['exact_copies']} exact copies" if bill["exact_copies"] else ""
            lines.append(
                f"      bill {bill['bill_id']}  ¥{bill['amount']}  "
                f"(delivery {bill['delivery_id']}, line {bill['file_line']}{copies})"
            )
    return lines


def _suspension_lines(u: dict) -> list[str]:
    lines = [
        f"suspensions  lookback ({u['lookback'][0]}, {u['lookback'][1]}]: {u['published_count']} counted × "
        f"{u['points_per_suspension']:+d} (seeds suspension_reasons, scoring_parameters)   {u['published_points']:+d}"
    ]
    for e in u["events"]:
        what = "counted" if e["counted"] else f"not counted: {e['not_counted_because']}"
        lines.append(
            f"  {e['suspended_date']}  {e['reason_code']} {e['reason_name']}  {what}  "
            f"(delivery {e['delivery_id']}, line {e['file_line']})"
        )
    return lines


def _star_lines(found: dict) -> list[str]:
    """The star's band, the next star and the star's entitlements."""
    star, lines = found["star"], []
    band = star["rule"]
    if band:
        top = band["max_score_exclusive"] if band["max_score_exclusive"] is not None else "∞"
        bottom = band["min_score_inclusive"] if band["min_score_inclusive"] is not None else "-∞"
        lines.append(
            f"star         {found['credit_score']} in [{bottom}, {top}) → {found['star_label']} "
            f"(star {found['star_level']}, seed star_levels)"
        )
    if star["next_star"]:
        lines.append(
            f"             next: {star['next_star']['star_label']}, {star['next_star']['points_needed']} points more"
        )
    if star["entitlements"]:
        e = star["entitlements"]
        lines.append(
            f"entitlements credit line ¥{e['credit_limit_yuan']}, points ×{e['points_multiplier']}, "
            f"{e['grace_days_after_arrears']} grace days after arrears, {e['free_sim_replacements_per_year']} free SIM "
            f"replacements a year, priority hotline {'yes' if _truthy(e['has_priority_hotline']) else 'no'}, "
            f"complaints answered within {e['complaint_response_hours']} h (seed star_entitlements)"
        )
    return lines


def main(customer_id: str, as_of: dt.date | None, *, target: str | None, as_json: bool) -> int:
    try:
        found = explain(customer_id, as_of, target=target)
    except NotExplained as e:
        print(f"credit-score explain: {e}", file=sys.stderr)
        return 1
    print(json.dumps(found, ensure_ascii=False, indent=2) if as_json else render(found))
    return 0
