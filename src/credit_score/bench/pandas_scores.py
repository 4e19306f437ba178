"""The mart as an analyst would write it in pandas: read the three raw CSV files, compute the scores.

Straightforward on purpose (the comparison of `credit-score bench`): whole files in memory, one
vectorised pass, the SPEC's numbers typed in, clean data assumed.  Money is kept in integer fen.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

BRANDS = {
    "G001": ("全球通", 50),
    "G010": ("动感地带", 30),
    "GS03": ("动感地带", 30),
    "G002": ("神州行", 20),
    "GS01": ("神州行", 20),
}
HARMLESS_REASONS = ["CUSTOMER_REQUEST", "LOST", "ADMIN"]
STARS = ["准星", "一星", "二星", "三星", "四星", "五星"]


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype="string[pyarrow]", engine="pyarrow", keep_default_na=False, na_values=[""])


def _months_back(day: dt.date, months: int) -> dt.date:
    index = day.year * 12 + day.month - 1 - months
    year, month = divmod(index, 12)
    last = (dt.date(year + (month + 1) // 12, (month + 1) % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month + 1, min(day.day, last))


def _yuan(fen: int) -> str:
    """Integer fen as yuan with 2 decimals, exactly (-530 -> -5.30)."""
    sign = "-" if fen < 0 else ""
    return f"{sign}{abs(fen) // 100}.{abs(fen) % 100:02d}"


def score(data_dir: Path, as_of: dt.date) -> pd.DataFrame:
    """Long: the pandas variant is what an analyst would write by hand, one function from the raw frames to the
    mart's rows, on purpose."""
    d = pd.Timestamp(as_of)
    subs = _read(data_dir / "subscriptions.csv")
    activation = pd.to_datetime(subs["activation_date"], format="%Y-%m-%d")
    termination = pd.to_datetime(subs["termination_date"], format="%Y-%m-%d")
    in_scope = (activation <= d) & (termination.isna() | (termination > d))
    customers = pd.DataFrame(
        {
            "customer_id": subs["customer_id"][in_scope],
            "msisdn": subs["msisdn"][in_scope],
            "brand_code": subs["brand_code"][in_scope],
            "activation_date": activation[in_scope],
        }
    )

    # spend window: the last complete month and the 5 before it, as year*12 + month - 1
    last_complete = as_of if (as_of + dt.timedelta(days=1)).day == 1 else as_of.replace(day=1) - dt.timedelta(days=1)
    window_end = last_complete.year * 12 + last_complete.month - 1
    bills = _read(data_dir / "billing.csv")
    month_text = bills["bill_month"]
    compact = month_text.str.len() == 6
    year = month_text.str.slice(0, 4).astype("int32")
    month = month_text.str.slice(5, 7).where(~compact, month_text.str.slice(4, 6)).astype("int32")
    bill_index = year * 12 + month - 1
    in_window = (bill_index > window_end - 6) & (bill_index <= window_end)
    fen = (bills["amount"][in_window].astype("float64") * 100).round().astype("int64")
    spend = fen.groupby(bills["customer_id"][in_window]).sum().rename("spend_fen")

    suspensions = _read(data_dir / "suspensions.csv")
    day = suspensions["suspended_at"].str.slice(0, 10)
    lookback_start = _months_back(as_of, 12).isoformat()
    penalised = (day > lookback_start) & (day <= as_of.isoformat()) & ~suspensions["reason_code"].isin(HARMLESS_REASONS)
    counts = suspensions["customer_id"][penalised].value_counts().rename("suspension_count")

    out = customers.merge(spend, left_on="customer_id", right_index=True, how="left")
    out = out.merge(counts, left_on="customer_id", right_index=True, how="left")
    out["spend_fen"] = out["spend_fen"].fillna(0).astype("int64")
    out["suspension_count"] = out["suspension_count"].fillna(0).astype("int64")

    a = out["activation_date"]
    out["months_on_net"] = (d.year - a.dt.year) * 12 + (d.month - a.dt.month) - (d.day < a.dt.day).astype("int64")
    out["tenure_years"] = out["months_on_net"] // 12
    activation_index = a.dt.year * 12 + a.dt.month - 1
    out["spend_months"] = (window_end - activation_index + 1).clip(0, 6)
    m = out["spend_months"].to_numpy()
    s = out["spend_fen"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(m == 0, 0, np.sign(s) * ((np.abs(s) * 2 + m) // np.maximum(2 * m, 1)))
    out["avg_fen"] = avg

    out["brand_name"] = out["brand_code"].map({k: v[0] for k, v in BRANDS.items()})
    out["brand_points"] = out["brand_code"].map({k: v[1] for k, v in BRANDS.items()}).astype("int64")
    bands = ["under_1_year", "1_to_2_years", "2_to_3_years", "3_to_4_years", "4_to_5_years", "5_years_and_more"]
    out["tenure_band"] = [bands[min(int(years), 5)] for years in out["tenure_years"]]
    out["tenure_points"] = np.select(
        [
            out["tenure_years"] >= 5,
            out["tenure_years"] == 4,
            out["tenure_years"] == 3,
            out["tenure_years"] == 2,
            out["tenure_years"] == 1,
        ],
        [300, 250, 200, 150, 50],
        0,
    )
    out["spend_points"] = np.select(
        [avg <= 2000, avg <= 5000, avg <= 8000, avg <= 12000, avg <= 20000, avg <= 40000],
        [0, 20, 50, 100, 150, 200],
        250,
    )
    out["suspension_points"] = -100 * out["suspension_count"]
    out["credit_score"] = out["brand_points"] + out["tenure_points"] + out["spend_points"] + out["suspension_points"]
    out["star_level"] = np.select([out["credit_score"] >= t for t in (500, 400, 300, 200, 100)], [5, 4, 3, 2, 1], 0)
    out["star_label"] = [STARS[level] for level in out["star_level"]]
    # SPEC 7: the score read aloud, and the next star (none above 五星)
    out["score_explanation"] = [
        f"{name} {bp:+d} · 网龄{years}年 {tp:+d} · 月均¥{_yuan(fen)} {sp:+d} · 停机{count}次 {pp:+d}"
        f" = {total} → {label}"
        for name, bp, years, tp, fen, sp, count, pp, total, label in zip(
            out["brand_name"],
            out["brand_points"],
            out["tenure_years"],
            out["tenure_points"],
            out["avg_fen"],
            out["spend_points"],
            out["suspension_count"],
            out["suspension_points"],
            out["credit_score"],
            out["star_label"],
            strict=True,
        )
    ]
    out["next_star_label"] = [STARS[level + 1] if level < 5 else None for level in out["star_level"]]
    out["points_to_next_star"] = (
        ((out["star_level"] + 1) * 100 - out["credit_score"]).where(out["star_level"] < 5).astype("Int64")
    )
    digits = out["msisdn"].str.fullmatch(r"[0-9]{11}").fillna(False)
    masked = out["msisdn"].str.slice(0, 3) + "****" + out["msisdn"].str.slice(7, 11)
    out["msisdn_masked"] = masked.where(digits, None)
    out["as_of_date"] = as_of
    out["activation_date"] = out["activation_date"].dt.date
    return out[
        [
            "customer_id",
            "as_of_date",
            "msisdn_masked",
            "brand_code",
            "brand_name",
            "activation_date",
            "months_on_net",
            "tenure_years",
            "tenure_band",
            "spend_months",
            "avg_fen",
            "suspension_count",
            "brand_points",
            "tenure_points",
            "spend_points",
            "suspension_points",
            "credit_score",
            "star_level",
            "star_label",
            "score_explanation",
            "next_star_label",
            "points_to_next_star",
        ]
    ]
