"""The mart as an analyst would write it in pandas: read the three raw CSV files, compute the scores.

Straightforward on purpose (the comparison of `credit-score bench`): whole files in memory, one
vectorised pass, the rules' numbers read from the seeds (credit_score.rules), clean data assumed.
Money is kept in integer fen.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import numpy as np
import pandas as pd

from credit_score import rules


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
    r = rules.load(as_of=as_of)  # the rule version in force on D
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

    # spend window: the last complete month and the months before it, as year*12 + month - 1
    last_complete = as_of if (as_of + dt.timedelta(days=1)).day == 1 else as_of.replace(day=1) - dt.timedelta(days=1)
    window_end = last_complete.year * 12 + last_complete.month - 1
    bills = _read(data_dir / "billing.csv")
    month_text = bills["bill_month"]
    compact = month_text.str.len() == 6
    year = month_text.str.slice(0, 4).astype("int32")
    month = month_text.str.slice(5, 7).where(~compact, month_text.str.slice(4, 6)).astype("int32")
    bill_index = year * 12 + month - 1
    in_window = (bill_index > window_end - r.spend_window_months) & (bill_index <= window_end)
    fen = (bills["amount"][in_window].astype("float64") * 100).round().astype("int64")
    spend = fen.groupby(bills["customer_id"][in_window]).sum().rename("spend_fen")

    suspensions = _read(data_dir / "suspensions.csv")
    day = suspensions["suspended_at"].str.slice(0, 10)
    lookback_start = _months_back(as_of, r.lookback_months).isoformat()
    penalised = (
        (day > lookback_start) & (day <= as_of.isoformat()) & ~suspensions["reason_code"].isin(list(r.free_reasons))
    )
    counts = suspensions["customer_id"][penalised].value_counts().rename("suspension_count")

    out = customers.merge(spend, left_on="customer_id", right_index=True, how="left")
    out = out.merge(counts, left_on="customer_id", right_index=True, how="left")
    out["spend_fen"] = out["spend_fen"].fillna(0).astype("int64")
    out["suspension_count"] = out["suspension_count"].fillna(0).astype("int64")

    a = out["activation_date"]
    out["months_on_net"] = (d.year - a.dt.year) * 12 + (d.month - a.dt.month) - (d.day < a.dt.day).astype("int64")
    out["tenure_years"] = out["months_on_net"] // 12
    activation_index = a.dt.year * 12 + a.dt.month - 1
    out["spend_months"] = (window_end - activation_index + 1).clip(0, r.spend_window_months)
    m = out["spend_months"].to_numpy()
    s = out["spend_fen"].to_numpy()
    with np.errstate(divide="ignore", invalid="ignore"):
        avg = np.where(m == 0, 0, np.sign(s) * ((np.abs(s) * 2 + m) // np.maximum(2 * m, 1)))
    out["avg_fen"] = avg

    out["brand_name"] = out["brand_code"].map({code: name for code, (_, name, _) in r.brands.items()})
    out["brand_points"] = out["brand_code"].map({code: points for code, (_, _, points) in r.brands.items()})
    out["brand_points"] = out["brand_points"].astype("int64")
    years = out["tenure_years"]
    in_band = [
        (years >= int(b.low or 0)) & (years < int(b.high) if b.high is not None else True) for b in r.tenure_bands
    ]
    out["tenure_band"] = np.select(in_band, [b.name for b in r.tenure_bands], None)
    out["tenure_points"] = np.select(in_band, [b.points for b in r.tenure_bands], 0)
    *closed, top = r.spend_bands  # ascending; the top band is open above
    out["spend_points"] = np.select([avg <= int(b.high * 100) for b in closed], [b.points for b in closed], top.points)
    out["suspension_points"] = r.penalty * out["suspension_count"]
    out["credit_score"] = out["brand_points"] + out["tenure_points"] + out["spend_points"] + out["suspension_points"]
    lowest, *above = r.stars
    out["star_level"] = np.select(
        [out["credit_score"] >= s.min_score for s in reversed(above)], [s.level for s in reversed(above)], lowest.level
    )
    label = {s.level: s.label for s in r.stars}
    out["star_label"] = [label[level] for level in out["star_level"]]
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
    following = {s.level: r.next_star(s.level) for s in r.stars}
    out["next_star_label"] = [following[level].label if following[level] else None for level in out["star_level"]]
    threshold = out["star_level"].map({level: n.min_score if n else None for level, n in following.items()})
    out["points_to_next_star"] = (threshold - out["credit_score"]).astype("Int64")
    digits = out["msisdn"].str.fullmatch(r"[0-9]{11}").fillna(False)
    masked = out["msisdn"].str.slice(0, 3) + "****" + out["msisdn"].str.slice(7, 11)
    out["msisdn_masked"] = masked.where(digits, None)
    out["as_of_date"] = as_of
    out["rule_version"] = r.version
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
            "rule_version",
        ]
    ]
