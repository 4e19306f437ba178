"""Adversarial raw rows: customers placed on the boundaries of SPEC around given as-of dates.

Deterministic for a seed.  Every customer sits on or next to a rule's edge for one of the dates:
anniversaries one day short / exact / one day after, 29 February and month-end activations,
activation and termination on and around the date, averages a fen either side of each spend band
edge and exactly on the half fen, months without bills, several bills and adjustments in a month,
bills just outside the window in both directions, every bill_month form, suspensions on the first
day out of and in the lookback window and on the as-of date, harmless, unknown and lower-case reason
codes, and malformed numbers.
"""

from __future__ import annotations

import calendar
import datetime as dt
import random

from tests.reference import add_months, last_complete_month

SPEND_EDGES = [0, 20, 50, 80, 120, 200, 400]
CODES = ["G001", "G010", "GS03", "G002", "GS01", "g001", " G010 "]
REASONS = ["ARREARS", "HIGH_USAGE", "CUSTOMER_REQUEST", "LOST", "ADMIN", "XYZ", "arrears", ""]


def _bill_month_text(month: dt.date, rng: random.Random) -> str:
    form = rng.randrange(4)
    if form == 0:
        return month.strftime("%Y-%m")
    if form == 1:
        return month.strftime("%Y%m")
    last = calendar.monthrange(month.year, month.month)[1]
    return month.replace(day=rng.randint(1, last)).isoformat()


def _activation(as_of: dt.date, rng: random.Random) -> dt.date:
    kind = rng.randrange(7)
    if kind == 0:  # around an anniversary
        return add_months(as_of, -12 * rng.randint(0, 7)) + dt.timedelta(days=rng.choice([-1, 0, 1]))
    if kind == 1:  # 29 February of a leap year
        return dt.date(rng.choice([2016, 2020, 2024]), 2, 29)
    if kind == 2:  # a month's last day
        month = add_months(as_of.replace(day=1), -rng.randint(0, 80))
        return month.replace(day=calendar.monthrange(month.year, month.month)[1])
    if kind == 3:  # on or around the as-of date
        return as_of + dt.timedelta(days=rng.choice([-1, 0, 1]))
    if kind == 4:  # inside the spend window: fewer than 6 months
        return add_months(as_of, -rng.randint(0, 6)) + dt.timedelta(days=rng.randint(-3, 3))
    return as_of - dt.timedelta(days=rng.randint(0, 9000))


def build(customers: int, as_of_dates: list[dt.date], seed: int = 1) -> dict[str, list[dict[str, str]]]:
    rng = random.Random(seed)
    subscriptions: list[dict[str, str]] = []
    billing: list[dict[str, str]] = []
    suspensions: list[dict[str, str]] = []
    for n in range(customers):
        customer = f"A{n:06d}"
        as_of = as_of_dates[n % len(as_of_dates)]
        activation = _activation(as_of, rng)
        termination = ""
        if rng.random() < 0.2:
            termination = (as_of + dt.timedelta(days=rng.choice([-1, 0, 1, 40]))).isoformat()
        number = "1" + "".join(rng.choice("0123456789") for _ in range(10))
        msisdn = rng.choice([number] * 6 + [number[:10], number + "9", "+86" + number, "", "1381234567x"])
        subscriptions.append(
            {
                "customer_id": customer,
                "msisdn": msisdn,
                "brand_code": rng.choice(CODES),
                "activation_date": activation.isoformat(),
                "termination_date": termination,
                "updated_at": f"{as_of.isoformat()} 02:00:00",
            }
        )

        # bills aimed at a spend band edge: total = edge * months (in fen) + a few fen either way,
        # or exactly half a fen above the edge on average
        window_end = last_complete_month(as_of)
        months = [add_months(window_end, -k) for k in range(6)]
        months = [m for m in months if m >= activation.replace(day=1)] or months[:1]
        edge_fen = rng.choice(SPEND_EDGES) * 100
        delta = rng.choice([-1, 0, 1, len(months) // 2, -(len(months) // 2), rng.randint(-9, 9)])
        total = edge_fen * len(months) + delta
        shares = [rng.random() for _ in months]
        if rng.random() < 0.3:
            shares[rng.randrange(len(shares))] = 0  # a month without a bill
        weight = sum(shares) or 1
        fen = [int(total * s / weight) for s in shares]
        fen[0] += total - sum(fen)
        for k, (month, amount) in enumerate(zip(months, fen, strict=True)):
            if amount == 0 and rng.random() < 0.7:
                continue
            parts = [amount]
            if rng.random() < 0.2:  # split into a bill and an adjustment
                adjustment = -rng.randint(1, 5000)
                parts = [amount - adjustment, adjustment]
            for p, part in enumerate(parts):
                billing.append(
                    {
                        "bill_id": f"{customer}-B{k}-{p}",
                        "customer_id": customer,
                        "bill_month": _bill_month_text(month, rng),
                        "amount": f"{'-' if part < 0 else ''}{abs(part) // 100}.{abs(part) % 100:02d}",
                    }
                )
        for k, month in enumerate([add_months(window_end, -6), add_months(window_end, 1)]):
            if rng.random() < 0.5:  # just outside the window, either side
                billing.append(
                    {
                        "bill_id": f"{customer}-X{k}",
                        "customer_id": customer,
                        "bill_month": _bill_month_text(month, rng),
                        "amount": f"{rng.randint(1, 99999)}.{rng.randint(0, 99):02d}",
                    }
                )

        lookback_start = add_months(as_of, -12)
        for k in range(rng.choice([0, 0, 1, 2, 3, 7])):
            day = rng.choice(
                [
                    lookback_start,
                    lookback_start + dt.timedelta(days=1),
                    as_of,
                    as_of + dt.timedelta(days=1),
                    as_of - dt.timedelta(days=rng.randint(0, 500)),
                ]
            )
            moment = dt.datetime.combine(
                day, dt.time(rng.choice([0, 12, 23]), rng.choice([0, 59]), rng.choice([0, 59]))
            )
            suspensions.append(
                {
                    "suspension_id": f"{customer}-S{k}",
                    "customer_id": customer,
                    "suspended_at": moment.strftime("%Y-%m-%d %H:%M:%S"),
                    "resumed_at": ""
                    if rng.random() < 0.5
                    else (moment + dt.timedelta(days=3)).strftime("%Y-%m-%d %H:%M:%S"),
                    "reason_code": rng.choice(REASONS),
                }
            )
    return {"subscriptions": subscriptions, "billing": billing, "suspensions": suspensions}
