"""`credit-score report [--out DIR]`: one static HTML page, with its PNG charts, from what BI reads.

The star distribution, the score histogram, stars by brand and by tenure band, the month's migration
heatmap, the watchlist's top 20 (masked numbers), data quality (rejects by reason, the reconciliation,
the deliveries; superseded versions apart from the rejects that are errors) and the trend of the
history. Codes are shown in words (tenure bands, the watchlist's signals); the data keys keep them.
Every figure on the page comes from one query on the published marts and audit (credit_score.sql's
reader: the served DuckDB file read-only, or PostgreSQL read-only); each number in a table carries a
data-key attribute ("stars.4.customers") so that a test - or anyone's script - can read the page's
numbers back. Chinese labels use a CJK font when the machine has one (Debian: fonts-noto-cjk); the
charts fall back to the seed's English star labels otherwise.
"""

from __future__ import annotations

import datetime as dt
import decimal
import html
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from credit_score import console, privacy
from credit_score.sql import reader

STARS = "select star_level, star_label, count(*) from marts.customer_credit_score group by 1, 2 order by 1"
HISTOGRAM_WIDTH = 50


@dataclass
class Page:
    title: str
    sections: list[str] = field(default_factory=list)

    def add(self, heading: str, body: str, note: str = "") -> None:
        paragraph = f"<p class='note'>{html.escape(note)}</p>" if note else ""
        self.sections.append(f"<section><h2>{html.escape(heading)}</h2>{paragraph}{body}</section>")

    def html(self) -> str:
        return TEMPLATE.format(title=html.escape(self.title), body="\n".join(self.sections))


def cell(value: object, key: str | None = None) -> str:
    if value is None:
        text = "—"
    elif isinstance(value, bool):
        text = "yes" if value else "no"
    elif isinstance(value, int):
        text = f"{value:,}"
    elif isinstance(value, decimal.Decimal | float):
        text = f"{value:,.2f}"
    elif isinstance(value, dt.date):
        text = value.isoformat()
    else:
        text = str(value)
    numeric = isinstance(value, int | float | decimal.Decimal) and not isinstance(value, bool)
    attributes = (f" data-key='{html.escape(key)}'" if key else "") + (" class='n'" if numeric else "")
    return f"<td{attributes}>{html.escape(text)}</td>"


def table(columns: list[str], rows: list[list[str]]) -> str:
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = "".join(f"<tr>{''.join(r)}</tr>" for r in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def image(name: str, alt: str) -> str:
    return f"<img src='charts/{name}' alt='{html.escape(alt)}'>"


SIGNALS = {
    "left": "left (scored before, not now)",
    "star_down": "star down",
    "spend_drop": "spend dropped",
    "new_suspension": "new suspension",
}
REJECT_NOTES = {"superseded": "superseded: an older version of the customer, replaced (not an error)"}


def band_label(band: str) -> str:
    """A band's code as words: `1_to_2_years` -> `1 to 2 years`, `under_1_year` -> `under 1 year`."""
    return band.replace("_", " ")


def signals_label(signals: str | None) -> str:
    """The watchlist's `risk_signals` (`star_down,new_suspension`) as words."""
    return ", ".join(SIGNALS.get(s, s) for s in (signals or "").split(",") if s) or "—"


@dataclass
class Drawing:
    """What every section draws with: the query runner, pyplot, the charts' folder and the star labels."""

    q: Callable[[str], list[tuple]]
    plt: object
    charts: Path
    label: dict[int, str]  # every star of the history: its label
    shown: dict[int, str]  # the labels the charts can draw (English without a CJK font)

    def save(self, figure, name: str) -> None:
        figure.tight_layout()
        figure.savefig(self.charts / name, dpi=110)
        self.plt.close(figure)


def write_report(out: Path, *, target: str | None = None) -> Path:
    """Write out/index.html and out/charts/*.png from what BI reads; return the page's path."""
    from credit_score.charts import cjk_font, pyplot

    charts = out / "charts"
    charts.mkdir(parents=True, exist_ok=True)
    with reader(target) as run:
        q = lambda statement: run(statement).rows  # noqa: E731
        # every star of the history (which holds the mart's date too), for the movements and the trend
        label = dict(q("select distinct star_level, star_label from marts.customer_credit_score_history"))
        # the charts' labels: without a CJK font the Chinese would draw as empty boxes
        shown = label if cjk_font() is not None else {level: f"{level} star" for level in label}
        d = Drawing(q, pyplot(), charts, label, shown)
        ((as_of, customers, average),) = q(
            "select max(as_of_date), count(*), avg(credit_score) from marts.customer_credit_score"
        )
        page = Page(f"Customer credit scores as of {as_of}")
        summary = [
            [cell(as_of, "summary.as_of"), cell(customers, "summary.customers"),
             cell(round(float(average), 2), "summary.average_score")],
        ]  # fmt: skip
        page.add("Summary", table(["as of", "customers scored", "average score"], summary))
        _stars(page, d, as_of, customers)
        _histogram(page, d)
        for dimension, title, key in (("brand_name", "Stars by brand", "brand"),
                                      ("tenure_band", "Stars by tenure band", "tenure")):  # fmt: skip
            _stars_by(page, d, dimension, title, key)
        _migration(page, d)
        _watchlist(page, d)
        _data_quality(page, d)
        _history(page, d)
    index = out / "index.html"
    index.write_text(page.html(), encoding="utf-8")
    return index


def _stars(page: Page, d: Drawing, as_of: dt.date, customers: int) -> None:
    stars = d.q(STARS)
    figure, axes = d.plt.subplots(figsize=(7, 3.2))
    axes.bar([d.shown[level] for level, _, _ in stars], [n for _, _, n in stars], color="#3b6ea8")
    axes.set_ylabel("customers")
    axes.set_title(f"Customers by star, {as_of}")
    d.save(figure, "stars.png")
    rows = [
        [cell(level, None), cell(name), cell(n, f"stars.{level}.customers"),
         cell(f"{n / customers:.1%}", f"stars.{level}.share")]
        for level, name, n in stars
    ]  # fmt: skip
    page.add(
        "Stars",
        image("stars.png", "customers by star") + table(["star_level", "star_label", "customers", "share"], rows),
        "Sort by star_level: star_label is text, and 一 二 三 sort as text does, not as the stars.",
    )


def _histogram(page: Page, d: Drawing) -> None:
    bins = d.q(
        f"select cast(floor(credit_score / {HISTOGRAM_WIDTH}.0) as integer) * {HISTOGRAM_WIDTH}, count(*) "
        "from marts.customer_credit_score group by 1 order by 1"
    )
    figure, axes = d.plt.subplots(figsize=(7, 3.2))
    axes.bar([b for b, _ in bins], [n for _, n in bins], width=HISTOGRAM_WIDTH * 0.9, align="edge", color="#6a8f3b")
    for threshold in range(100, 600, 100):
        axes.axvline(threshold, color="#999", linewidth=0.8, linestyle="--")
    axes.set_xlabel(f"credit score ({HISTOGRAM_WIDTH}-point bins; dashed: the star thresholds)")
    axes.set_ylabel("customers")
    d.save(figure, "histogram.png")
    rows = [[cell(f"[{b}, {b + HISTOGRAM_WIDTH})"), cell(n, f"histogram.{b}.customers")] for b, n in bins]
    page.add(
        "Scores",
        image("histogram.png", "score histogram")
        + f"<details><summary>the bins</summary>{table(['score', 'customers'], rows)}</details>",
    )


def _stars_by(page: Page, d: Drawing, dimension: str, title: str, key: str) -> None:
    """Stars by brand or by tenure band: a stacked bar chart and its table (bands shown in words)."""
    counted = d.q(
        f"select {dimension}, star_level, count(*) from marts.customer_credit_score group by 1, 2 order by 1, 2"
    )
    grid: dict[str, dict[int, int]] = defaultdict(dict)
    for value, level, n in counted:
        grid[value][level] = n
    values = sorted(grid, key=_tenure_order if key == "tenure" else str)
    words = band_label if key == "tenure" else str
    levels = sorted(d.label)
    figure, axes = d.plt.subplots(figsize=(7, 3.4))
    bottom = [0] * len(values)
    for level in levels:
        heights = [grid[v].get(level, 0) for v in values]
        axes.bar([words(v) for v in values], heights, bottom=bottom, label=d.shown[level])
        bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
    axes.legend(fontsize=8, ncols=3)
    axes.set_ylabel("customers")
    axes.tick_params(axis="x", labelsize=8)
    d.save(figure, f"{key}.png")
    rows = [
        [cell(words(v)), *(cell(grid[v].get(level, 0), f"{key}.{v}.{level}") for level in levels),
         cell(sum(grid[v].values()), f"{key}.{v}.total")]
        for v in values
    ]  # fmt: skip
    columns = [key, *(f"{level} {d.label[level]}" for level in levels), "total"]
    page.add(title, image(f"{key}.png", title) + table(columns, rows))


def _migration(page: Page, d: Drawing) -> None:
    """The newest date's migration matrix: a heatmap (from the previous date's star to this one's)."""
    dates = [day for (day,) in d.q("select distinct as_of_date from marts.customer_credit_score_history")]
    matrix = d.q(
        "select from_star_level, to_star_level, customers from marts.star_migration_matrix "
        "where as_of_date = (select max(as_of_date) from marts.star_migration_matrix)"
    )
    if not matrix:
        return
    moved_on = d.q("select max(as_of_date) from marts.star_migration_matrix")[0][0]
    previous = max((day for day in dates if day < moved_on), default=None)
    levels: list[int | None] = [None, *sorted(d.label)]
    counts = {(f, t): n for f, t, n in matrix}
    figure, axes = d.plt.subplots(figsize=(6.5, 5.2))
    grid_values = [[counts.get((f, t), 0) for t in levels] for f in levels]
    axes.imshow(grid_values, cmap="Blues")
    axes.set_xticks(range(len(levels)), ["left" if lv is None else d.shown[lv] for lv in levels])
    axes.set_yticks(range(len(levels)), ["new" if lv is None else d.shown[lv] for lv in levels])
    axes.set_xlabel(f"star on {moved_on}")
    axes.set_ylabel(f"star on {previous}")
    top = max((n for row in grid_values for n in row), default=0)
    for i, row in enumerate(grid_values):
        for j, n in enumerate(row):
            if n:
                colour = "white" if n > top / 2 else "black"
                axes.text(j, i, f"{n:,}", ha="center", va="center", fontsize=8, color=colour)
    d.save(figure, "migration.png")
    rows = [
        [cell("new" if f is None else d.label[f]), cell("left" if t is None else d.label[t]),
         cell(n, f"migration.{'new' if f is None else f}.{'left' if t is None else t}")]
        for f, t, n in sorted(matrix, key=lambda r: (_order(r[0]), _order(r[1])))
    ]  # fmt: skip
    page.add(
        f"How the stars moved, {previous} → {moved_on}",
        image("migration.png", "migration heatmap")
        + f"<details><summary>every cell</summary>{table(['from', 'to', 'customers'], rows)}</details>",
    )


def _watchlist(page: Page, d: Drawing) -> None:
    ((listed, at_risk),) = d.q("select count(*), sum(value_at_risk_yuan) from marts.retention_watchlist")
    top20 = d.q(
        "select priority, msisdn_masked, brand_name, previous_star_level, star_level, risk_signals, "
        "value_at_risk_yuan from marts.retention_watchlist order by priority limit 20"
    )
    rows = [
        [cell(p, f"watchlist.{p}.priority"), cell(m or "(no valid number)", f"watchlist.{p}.msisdn"), cell(b),
         cell(d.label.get(ps, ps)), cell("left" if s is None else d.label.get(s, s)),
         cell(signals_label(sig), f"watchlist.{p}.signals"), cell(v, f"watchlist.{p}.value_at_risk")]
        for p, m, b, ps, s, sig, v in top20
    ]  # fmt: skip
    totals = table(
        ["customers on the watchlist", "value at risk (yuan)"],
        [[cell(listed, "watchlist.size"), cell(at_risk or decimal.Decimal("0.00"), "watchlist.value_at_risk")]],
    )
    page.add(
        "Retention watchlist: the top 20",
        totals + table(["priority", "number", "brand", "was", "now", "signals", "value at risk (yuan)"], rows),
        "Numbers are masked (the first 3 and last 4 digits); the CRM reads the whole list.",
    )


def _data_quality(page: Page, d: Drawing) -> None:
    """Rejects by reason, the reconciliation and the deliveries; superseded versions apart from errors."""
    rejects = d.q(
        "select source_table, rejection_reason, count(*) from audit.rejected_records group by 1, 2 order by 1, 2"
    )
    reconciliation = d.q(
        "select source_table, raw_rows, accepted_rows, rejected_rows - superseded_rows, superseded_rows, "
        "exact_duplicate_rows, waiting_rows from audit.reconciliation order by 1"
    )
    deliveries = d.q(
        "select delivery_id, delivered_on, subscriptions_rows, subscriptions_superseded, billing_rows, "
        "billing_rejected, billing_duplicates, billing_waiting, suspensions_rows from audit.deliveries "
        "order by delivered_on, delivery_id"
    )
    body = table(
        ["table", "reason", "rows"],
        [[cell(t), cell(REJECT_NOTES.get(r, r)), cell(n, f"rejects.{t}.{r}")] for t, r, n in rejects]
        or [[cell("none")] * 3],
    )
    body += table(
        ["table", "raw rows", "accepted", "rejected", "superseded versions", "exact duplicates",
         "waiting for their customer"],
        [[cell(t), *(cell(v, f"reconciliation.{t}.{c}") for v, c in zip(values, RECONCILED, strict=True))]
         for t, *values in reconciliation],
    )  # fmt: skip
    body += table(
        ["delivery", "delivered", "subscriptions", "of them superseded versions", "bills", "bills rejected",
         "bill duplicates", "bills waiting", "suspensions"],
        [[cell(day), cell(on), *(cell(v, f"deliveries.{day}.{c}") for v, c in zip(values, DELIVERED, strict=True))]
         for day, on, *values in deliveries],
    )  # fmt: skip
    page.add(
        "Data quality",
        body,
        "Every delivered row is accepted, rejected with a reason, an exact duplicate, or waiting for its "
        "customer (a bill or suspension delivered before the customer: accepted when the customer arrives, "
        "rejected as unknown_customer after max_wait_months). A superseded version (a customer's older row, "
        "replaced by a newer one) is set aside like a reject but is no error: it is counted apart here "
        "and outside max_reject_share, as the waiting rows are.",
    )


def _history(page: Page, d: Drawing) -> None:
    trend = d.q(
        "select as_of_date, star_level, count(*), avg(credit_score) from marts.customer_credit_score_history "
        "group by 1, 2 order by 1, 2"
    )
    per_date = d.q(
        "select as_of_date, count(*), avg(credit_score) from marts.customer_credit_score_history group by 1 order by 1"
    )
    dates = [day for day, _, _ in per_date]
    figure, axes = d.plt.subplots(figsize=(7, 3.4))
    for level in sorted(d.label):
        points = [(day, n) for day, lv, n, _ in trend if lv == level]
        axes.plot([day for day, _ in points], [n for _, n in points], marker="o", label=d.shown[level])
    axes.legend(fontsize=8, ncols=3)
    axes.set_ylabel("customers")
    axes.set_xticks(dates, [day.isoformat() for day in dates])
    figure.autofmt_xdate()
    d.save(figure, "trend.png")
    rows = [[cell(day), cell(n, f"trend.{day}.customers"), cell(round(float(a), 2), f"trend.{day}.average_score")]
            for day, n, a in per_date]  # fmt: skip
    page.add("The history", image("trend.png", "customers per star over time") +
             table(["as of", "customers", "average score"], rows))  # fmt: skip


RECONCILED = ("raw_rows", "accepted_rows", "rejected_errors", "superseded_rows", "exact_duplicate_rows", "waiting_rows")
DELIVERED = (
    "subscriptions_rows",
    "subscriptions_superseded",
    "billing_rows",
    "billing_rejected",
    "billing_duplicates",
    "billing_waiting",
    "suspensions_rows",
)


def _order(level: int | None) -> int:
    return -1 if level is None else level


def _tenure_order(band: str) -> tuple[int, str]:
    digits = "".join(c for c in band.split("_")[0] if c.isdigit())
    return (int(digits) if digits else -1 if band.startswith("under") else 99, band)


def main(out: Path, target: str | None) -> int:
    from credit_score.sql import QueryFailed

    timer = console.Timer()
    try:
        index = write_report(out, target=target)
    except QueryFailed as e:
        console.err.print(f"credit-score report: {e}", markup=False)
        return 1
    privacy.share_tree(out)  # what BI reads, drawn (masked numbers only): readable by the readers' group
    console.done(f"wrote {index} (open it in a browser)", timer.seconds)
    return 0


TEMPLATE = """<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<title>{title}</title>
<style>
  body {{ font-family: "Noto Sans CJK SC", "Noto Sans", "DejaVu Sans", sans-serif; margin: 2em auto; max-width: 980px;
         color: #222; }}
  h1 {{ font-size: 1.6em; }} h2 {{ font-size: 1.2em; border-bottom: 1px solid #ccc; padding-bottom: .2em; }}
  table {{ border-collapse: collapse; margin: .6em 0 1em; font-size: .9em; }}
  th, td {{ border: 1px solid #ddd; padding: .25em .6em; text-align: left; }}
  td.n {{ text-align: right; font-variant-numeric: tabular-nums; }}
  th {{ background: #f3f3f3; }} img {{ max-width: 100%; display: block; margin: .5em 0; }}
  .note {{ color: #666; font-size: .9em; }}
</style>
</head>
<body>
<h1>{title}</h1>
<p class="note">credit-score report: read from what BI reads (the published marts and audit).</p>
{body}
</body>
</html>
"""
