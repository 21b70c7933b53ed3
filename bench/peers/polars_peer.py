"""SPEC §4 in Polars, as an analyst would write it: lazy frames over the
bank's two tables held in memory, joins, group_by/agg and window
expressions, collected once per query (bench/peers, issue 6).

The only finseg code used is `label_groups`, as a category table to join;
everything else follows SPEC §1/§4 and docs/decisions.md ("Segment types").
"""

from __future__ import annotations

import datetime as dt
import os
import re
from pathlib import Path
from typing import Any

# The benchmark gives Polars 2 threads. Polars reads this when its thread pool
# starts, so it only takes effect if polars was not imported earlier in the
# process.
os.environ.setdefault("POLARS_MAX_THREADS", "2")

import polars as pl  # noqa: E402

from . import Query, group_order, label_groups, rfm_segments, three_metric_rule  # noqa: E402

ACCOUNT_COLUMNS = ["account_id", "user_id", "type", "currency", "balance", "balance_date",
                   "opened_on", "closed_on"]
# The columns the segments read; the IBAN, purpose and MCC are not loaded.
TRANSACTION_COLUMNS = ["transaction_id", "account_id", "booking_date", "amount", "label",
                       "counterparty_name"]

# Frequency bands (closed intervals of the median gap in days) and payments per year.
BANDS = [("MONTHLY", 25, 35, 12), ("QUARTERLY", 80, 100, 4), ("HALF_YEARLY", 170, 195, 2),
         ("YEARLY", 350, 380, 1)]
# In a str pattern \s is what str.isspace() calls white space, as finseg's keys use.
_SPACES = re.compile(r"\s+")

DAY = pl.col("booking_date")
AMOUNT = pl.col("amount")


def make(accounts: Path, transactions: Path) -> PolarsPeer:
    """Loads the bank's Parquet files into memory (not part of a query's time)."""
    return PolarsPeer(pl.read_parquet(accounts, columns=ACCOUNT_COLUMNS),
                      pl.read_parquet(transactions, columns=TRANSACTION_COLUMNS))


class PolarsPeer:
    """finseg's segment types over in-memory Polars frames."""

    name = "Polars"

    def __init__(self, accounts: pl.DataFrame, transactions: pl.DataFrame) -> None:
        self.accounts = accounts
        self.transactions = transactions

    def run(self, query: Query) -> pl.DataFrame:
        """One row per member (user_id and a list of structs), in finseg's order."""
        kinds = {"HIGH_BALANCE": self.high_balance, "LOW_BALANCE": self.low_balance,
                 "RULE": self.rule,
                 "INCOME_SPENDING_SUMMARY": self.income_spending_summary,
                 "FINANCIAL_BREAKDOWN": self.financial_breakdown,
                 "INSURANCE_SPENDING": self.insurance_spending, "RFM": self.rfm,
                 "MERCHANT_AFFINITY": self.merchant_affinity}
        return kinds[query.type](query)

    def members(self, result: pl.DataFrame) -> list[dict[str, Any]]:
        """The result's rows are already `plain`'s dicts."""
        return result.to_dicts()

    # --- SPEC §4 -----------------------------------------------------------------------------

    def high_balance(self, query: Query) -> pl.DataFrame:
        """Accounts open on as_of with EOD(as_of) > threshold."""
        accounts = (self.accounts.lazy()
                    .filter(pl.col("currency") == query.currency, _open_on(query.as_of)))
        found = (self._eod(accounts, query.as_of)
                 .filter(pl.col("eod") > query.threshold)
                 .rename({"eod": "amount"}))
        return _nest(found, "accounts", ["account_id"], ["account_id", "currency", "amount"])

    def low_balance(self, query: Query) -> pl.DataFrame:
        """Accounts whose lowest EOD over the open days of each of the N
        complete months is below the threshold (`_monthly_lows`)."""
        accounts = self.accounts.lazy().filter(pl.col("currency") == query.currency)
        monthly = self._monthly_lows(query.currency, query.as_of, query.months,
                                     every_month=True)
        found = (monthly.group_by("account_id")
                 .agg(monthly_minimums=pl.col("low").sort_by("k"),
                      amount=pl.col("low").min(),
                      qualifies=(pl.col("low") < query.threshold).all())
                 .filter("qualifies")
                 .join(accounts.select("account_id", "user_id", "currency"), on="account_id"))
        return _nest(found, "accounts", ["account_id"],
                     ["account_id", "currency", "amount", "monthly_minimums"])

    def rule(self, query: Query) -> pl.DataFrame:
        """The benchmark's one RULE (RULE_3_METRICS, bench/peers), written for
        its metrics, not a parser of the language: over the users with an
        account in the currency, frequency and spend of the outgoing rows of
        (as_of - days, as_of] on any of those accounts, and the months in
        which one of them, open on some day, had its lowest EOD below the
        threshold (`_monthly_lows`). avg_spend > 50 is decided on the
        integers; the average shown is spend / frequency, and missing
        without an outgoing row."""
        r = three_metric_rule(query)
        accounts = (self.accounts.lazy().filter(pl.col("currency") == query.currency)
                    .select("account_id", "user_id"))
        first_day = query.as_of - dt.timedelta(days=r.days - 1)
        outgoing = (self.transactions.lazy()
                    .filter(DAY.is_between(first_day, query.as_of), AMOUNT < 0)
                    .join(accounts, on="account_id")
                    .group_by("user_id")
                    .agg(frequency=pl.len().cast(pl.Int64), spend=(-AMOUNT).sum()))
        low = (self._monthly_lows(query.currency, query.as_of, r.months, every_month=False)
               .filter(pl.col("low") < r.threshold)
               .join(accounts, on="account_id")
               .group_by("user_id")
               .agg(low_months=pl.col("k").n_unique().cast(pl.Int64)))
        frequency, spend, low_months = pl.col("frequency"), pl.col("spend"), pl.col("low_months")
        names = r.metrics
        zero = pl.lit(0.0, pl.Float64)
        return (accounts.select("user_id").unique()
                .join(outgoing, on="user_id", how="left")
                .join(low, on="user_id", how="left")
                .with_columns(frequency.fill_null(0), spend.fill_null(0),
                              low_months.fill_null(0))
                .filter(((frequency > r.min_frequency) & (spend > r.min_average * frequency))
                        | (low_months >= r.min_low_months))
                .select("user_id", metrics=pl.concat_list(
                    pl.struct(metric=pl.lit(names[0]), value=frequency, average=zero,
                              missing=pl.lit(False)),
                    pl.struct(metric=pl.lit(names[1]), value=pl.lit(0, pl.Int64),
                              average=pl.when(frequency > 0).then(spend / frequency)
                              .otherwise(zero),
                              missing=frequency == 0),
                    pl.struct(metric=pl.lit(names[2]), value=low_months, average=zero,
                              missing=pl.lit(False))))
                .sort("user_id")
                .collect())

    def income_spending_summary(self, query: Query) -> pl.DataFrame:
        """Per user and currency with a row in [from, to]: count and sum of the
        incoming and of the outgoing rows (0.00 rows make a member only)."""
        incoming, outgoing = AMOUNT > 0, AMOUNT < 0
        found = (self.transactions.lazy()
                 .filter(DAY.is_between(query.from_date, query.to_date))
                 .join(self.accounts.lazy().select("account_id", "user_id", "currency"),
                       on="account_id")
                 .group_by("user_id", "currency")
                 .agg(incoming_count=incoming.sum().cast(pl.Int64),
                      incoming_sum=AMOUNT.filter(incoming).sum(),
                      outgoing_count=outgoing.sum().cast(pl.Int64),
                      outgoing_sum=AMOUNT.filter(outgoing).sum()))
        return _nest(found, "currencies", ["currency"],
                     ["currency", "incoming_count", "incoming_sum", "outgoing_count",
                      "outgoing_sum"])

    def financial_breakdown(self, query: Query) -> pl.DataFrame:
        """Per user, requested group and currency with a row in the N
        complete months: count, total, monthly sums and their statistics."""
        n = query.months
        bounds = complete_months(query.as_of, n)
        groups = list(query.label_groups)
        pairs = label_groups(self._labels(), groups)
        order = group_order(groups)
        # A row in two requested groups (INCOME and SALARY) joins twice.
        categories = pl.LazyFrame(
            {"label": [label for label, _ in pairs], "label_group": [g for _, g in pairs],
             "group_order": [order[g] for _, g in pairs]},
            schema={"label": pl.String, "label_group": pl.String, "group_order": pl.Int32})
        month = month_index(DAY, bounds[0])
        sums = [pl.col(f"m{k}") for k in range(n)]
        average = pl.col("total") / n
        found = (self.transactions.lazy()
                 .filter((DAY >= bounds[0]) & (DAY < bounds[-1]))
                 .join(categories, on="label")
                 .join(self.accounts.lazy().select("account_id", "user_id", "currency"),
                       on="account_id")
                 .group_by("user_id", "currency", "group_order", "label_group")
                 # one column per month, 0 for a month without rows
                 .agg(pl.len().cast(pl.Int64).alias("count"),
                      *[pl.when(month == k).then(AMOUNT).otherwise(0).sum().alias(f"m{k}")
                        for k in range(n)])
                 .with_columns(monthly_sums=pl.concat_list(sums), total=pl.sum_horizontal(sums))
                 .with_columns(average=average, min=pl.min_horizontal(sums),
                               max=pl.max_horizontal(sums),
                               median=pl.col("monthly_sums").list.median(),
                               std_dev=(pl.sum_horizontal([(m - average) ** 2 for m in sums])
                                        / n).sqrt()))
        return _nest(found, "groups", ["group_order", "currency"],
                     ["label_group", "currency", "count", "total", "monthly_sums", "average",
                      "min", "max", "median", "std_dev"])

    def insurance_spending(self, query: Query) -> pl.DataFrame:
        """Contracts per user, currency, provider key and insurance type from
        the outgoing INSURANCE rows of the N complete months."""
        bounds = complete_months(query.as_of, query.months)
        types = [(label, insurance_type(label))
                 for label, _ in label_groups(self._labels(), ["INSURANCE"])]
        types = [(label, kind) for label, kind in types
                 if not query.insurance_types or kind in query.insurance_types]
        categories = pl.LazyFrame({"label": [label for label, _ in types],
                                   "insurance_type": [kind for _, kind in types]},
                                  schema={"label": pl.String, "insurance_type": pl.String})
        payments = (self.transactions.lazy()
                    .filter((DAY >= bounds[0]) & (DAY < bounds[-1]), AMOUNT < 0)
                    .join(categories, on="label")
                    .join(self.accounts.lazy().select("account_id", "user_id", "currency"),
                          on="account_id")
                    .with_columns(pl.col("counterparty_name").fill_null(""))
                    .collect())
        # casefold and str.isspace have no Polars twin: key the few distinct names in Python.
        names = payments["counterparty_name"].unique().to_list()
        keys = pl.LazyFrame({"counterparty_name": names,
                             "provider_key": [provider_key(name) for name in names]},
                            schema={"counterparty_name": pl.String, "provider_key": pl.String})
        paid = -AMOUNT
        gap = DAY.unique().sort().diff().dt.total_days().median()
        frequency = pl.coalesce(
            pl.when(pl.col("gap").is_null()).then(pl.lit("ONCE")),
            *[pl.when(pl.col("gap").is_between(low, high)).then(pl.lit(name))
              for name, low, high, _ in BANDS],
            pl.lit("IRREGULAR"))
        per_year = pl.col("frequency").replace_strict(
            {name: times for name, _, _, times in BANDS}, default=None, return_dtype=pl.Float64)
        found = (payments.lazy()
                 .join(keys, on="counterparty_name")
                 .group_by("user_id", "currency", "provider_key", "insurance_type")
                 .agg(provider_name=pl.col("counterparty_name")
                      .sort_by("booking_date", "transaction_id").last(),
                      payment_count=pl.len().cast(pl.Int64),
                      first_payment=DAY.min().dt.to_string("%Y-%m-%d"),
                      last_payment=DAY.max().dt.to_string("%Y-%m-%d"),
                      typical_amount=paid.median(),
                      paid=paid.sum(),
                      gap=gap)
                 .with_columns(frequency=frequency)
                 .with_columns(per_year=per_year)
                 # ONCE and IRREGULAR cost the sum of their payments
                 .with_columns(annual_cost=pl.when(pl.col("per_year").is_not_null())
                               .then(pl.col("typical_amount") * pl.col("per_year"))
                               .otherwise(pl.col("paid").cast(pl.Float64))))
        return _nest(found, "contracts", ["provider_key", "insurance_type", "currency"],
                     ["provider_key", "provider_name", "insurance_type", "currency",
                      "payment_count", "first_payment", "last_payment", "typical_amount",
                      "frequency", "annual_cost"])

    def rfm(self, query: Query) -> pl.DataFrame:
        """Per user with an outgoing row of the currency in (as_of - window,
        as_of] (with groups: labelled in one): recency, frequency, monetary
        and their 1-5 scores, the code and the segment name of the grid."""
        start = query.as_of - dt.timedelta(days=query.window_days)
        rows = (self.transactions.lazy()
                .filter(DAY > start, DAY <= query.as_of, AMOUNT < 0))
        if query.label_groups:
            labels = pl.LazyFrame({"label": [label for label, _ in
                                             label_groups(self._labels(), query.label_groups)]},
                                  schema={"label": pl.String})
            rows = rows.join(labels, on="label", how="semi")
        segments = pl.LazyFrame(rfm_segments(), schema={
            "r_score": pl.Int64, "f_score": pl.Int64, "segment_name": pl.String})
        found = (rows
                 .join(self.accounts.lazy().filter(pl.col("currency") == query.currency)
                       .select("account_id", "user_id"), on="account_id")
                 .group_by("user_id")
                 .agg(recency=(pl.lit(query.as_of) - DAY.max()).dt.total_days(),
                      frequency=pl.len().cast(pl.Int64),
                      monetary=(-AMOUNT).sum())
                 .with_columns(r_score=_score(pl.col("recency"), more_is_better=False),
                               f_score=_score(pl.col("frequency"), more_is_better=True),
                               m_score=_score(pl.col("monetary"), more_is_better=True))
                 .with_columns(rfm_code=pl.concat_str("r_score", "f_score", "m_score"))
                 .join(segments, on=["r_score", "f_score"])
                 .sort("user_id")
                 .select("user_id", "recency", "frequency", "monetary", "r_score", "f_score",
                         "m_score", "rfm_code", "segment_name"))
        return found.collect()

    def merchant_affinity(self, query: Query) -> pl.DataFrame:
        """The merchants ranked by customers over the outgoing rows of the N
        complete months, or with a counterparty that merchant's customers:
        one row per member, not nested per user."""
        payments = self._merchant_payments(query)
        if query.counterparty:
            return _merchant_customers(payments)
        return _merchant_ranking(payments, query.min_customers)

    def _merchant_payments(self, query: Query) -> pl.LazyFrame:
        """The window's outgoing rows with their merchant key, user and
        currency; for a drill-down only those keyed as the counterparty.
        casefold and str.isspace have no Polars twin: as for
        INSURANCE_SPENDING, the few distinct names are keyed in Python."""
        bounds = complete_months(query.as_of, query.months)
        rows = (self.transactions.lazy()
                .filter((DAY >= bounds[0]) & (DAY < bounds[-1]), AMOUNT < 0)
                .with_columns(pl.col("counterparty_name").fill_null("")))
        names = (rows.select(pl.col("counterparty_name").unique()).collect()
                 ["counterparty_name"].to_list())
        keyed = [(name, provider_key(name)) for name in names]
        if query.counterparty:
            wanted = provider_key(query.counterparty)
            keyed = [(name, key) for name, key in keyed if key == wanted]
        keys = pl.LazyFrame({"counterparty_name": [name for name, _ in keyed],
                             "merchant_key": [key for _, key in keyed]},
                            schema={"counterparty_name": pl.String, "merchant_key": pl.String})
        return (rows.join(keys, on="counterparty_name")
                .join(self.accounts.lazy().select("account_id", "user_id", "currency"),
                      on="account_id"))

    def _eod(self, accounts: pl.LazyFrame, day: dt.date) -> pl.LazyFrame:
        """The accounts with `eod`, their EOD on `day`: the snapshot balance
        moved by the rows booked between the snapshot date and `day` (added
        going forward, taken off going back), since
        EOD(d) = balance + S(d) - S(balance_date)."""
        snapshot = pl.col("balance_date")
        moves = (self.transactions.lazy()
                 .select("account_id", "booking_date", "amount")
                 .join(accounts.select("account_id", "balance_date"), on="account_id")
                 .filter((DAY > pl.min_horizontal(snapshot, pl.lit(day)))
                         & (DAY <= pl.max_horizontal(snapshot, pl.lit(day))))
                 .group_by("account_id")
                 .agg(move=pl.when(DAY <= day).then(AMOUNT).otherwise(-AMOUNT).sum()))
        return (accounts.join(moves, on="account_id", how="left")
                .with_columns(eod=pl.col("balance") + pl.col("move").fill_null(0)))

    def _monthly_lows(self, currency: str, as_of: dt.date, months: int, every_month: bool
                      ) -> pl.LazyFrame:
        """(account_id, k, low): the lowest EOD of each account in `currency`
        over its open days of month k of the N complete months before
        as_of's, for each month in which it was open on some day; with
        `every_month`, only of the accounts open on some day of every month
        (LOW_BALANCE's; RULE's low_balance_months reads all).

        EOD changes only on booking days. So a month's lowest EOD is the
        lowest of EOD on its first open day (a checkpoint row, where the
        balance carries over) and EOD on its booking days after that and
        before the month or the account closes: a running sum per account
        over the window's booking days and checkpoints, on top of EOD on the
        eve of the window."""
        bounds = complete_months(as_of, months)
        start, stop = bounds[0], bounds[-1]
        accounts = self.accounts.lazy().filter(pl.col("currency") == currency)
        calendar = pl.LazyFrame({"k": list(range(months)), "month_start": bounds[:-1],
                                 "month_stop": bounds[1:]},
                                schema={"k": pl.Int32, "month_start": pl.Date,
                                        "month_stop": pl.Date})
        is_open = pl.col("first") < pl.col("stop")
        # Open days of month k: [first, stop); null dates mean open since ever / still open.
        open_days = (accounts.join(calendar, how="cross")
                     .select("account_id", "k",
                             first=pl.max_horizontal("month_start", "opened_on"),
                             stop=pl.min_horizontal("month_stop", "closed_on"))
                     # LOW_BALANCE: not open on any day of one month, the account
                     # cannot qualify; RULE: such a month is not below
                     .filter(is_open.all().over("account_id") if every_month else is_open))
        booking_days = (self.transactions.lazy()
                        .filter((DAY >= start) & (DAY < stop))
                        .join(open_days.select("account_id").unique(), on="account_id",
                              how="semi")
                        .group_by("account_id", "booking_date").agg(AMOUNT.sum())
                        .with_columns(k=month_index(DAY, start), checkpoint=pl.lit(False)))
        checkpoints = open_days.select("account_id", booking_date="first",
                                       amount=pl.lit(0, pl.Int64), k="k",
                                       checkpoint=pl.lit(True))
        eve = self._eod(accounts, start - dt.timedelta(days=1)).select("account_id", "eod")
        return (pl.concat([booking_days, checkpoints])
                # a checkpoint after its day's rows: EOD includes the day's bookings
                .with_columns(moved=AMOUNT.cum_sum().over(
                    "account_id", order_by=["booking_date", "checkpoint"]))
                .join(open_days, on=["account_id", "k"])
                .filter(pl.col("checkpoint")
                        | ((DAY > pl.col("first")) & (DAY < pl.col("stop"))))
                .join(eve, on="account_id")
                .group_by("account_id", "k")
                .agg(low=(pl.col("eod") + pl.col("moved")).min()))

    def _labels(self) -> list[str]:
        """The distinct labels in the data, for the category table."""
        return (self.transactions.lazy().select(pl.col("label").unique().drop_nulls())
                .collect()["label"].to_list())


# --- helpers -----------------------------------------------------------------------------------

def complete_months(as_of: dt.date, n: int) -> list[dt.date]:
    """First days of the N complete months before as_of's month, and of
    as_of's month: month k covers [bounds[k], bounds[k + 1])."""
    first = as_of.year * 12 + as_of.month - 1 - n
    return [dt.date((first + k) // 12, (first + k) % 12 + 1, 1) for k in range(n + 1)]


def month_index(day: pl.Expr, start: dt.date) -> pl.Expr:
    """Months from `start`'s month to the day's (0 for `start`'s month)."""
    return (day.dt.year().cast(pl.Int32) * 12 + day.dt.month().cast(pl.Int32)
            - (start.year * 12 + start.month))


def insurance_type(label: str) -> str:
    """The label's second level; plain INSURANCE is OTHER. finseg resolves
    aliases first; the default taxonomy has none inside INSURANCE."""
    parts = label.split(".")
    return parts[1] if len(parts) > 1 else "OTHER"


def provider_key(name: str) -> str:
    """Case-folded, runs of white space made one space, trimmed."""
    return _SPACES.sub(" ", name.casefold()).strip()


def _merchant_ranking(payments: pl.LazyFrame, least: int) -> pl.DataFrame:
    """Per merchant key and currency with at least `least` customers:
    distinct users, payments, spend and the name of the latest payment
    (greatest date, then the greatest spelling: strings sort by their bytes),
    by customers descending, key and currency."""
    return (payments.group_by("merchant_key", "currency")
            .agg(merchant_name=pl.col("counterparty_name")
                 .sort_by("booking_date", "counterparty_name").last(),
                 customers=pl.col("user_id").n_unique().cast(pl.Int64),
                 transactions=pl.len().cast(pl.Int64),
                 spend=(-AMOUNT).sum())
            .filter(pl.col("customers") >= least)
            .sort(["customers", "merchant_key", "currency"], descending=[True, False, False])
            .select("merchant_key", "merchant_name", "currency", "customers", "transactions",
                    "spend")
            .collect())


def _merchant_customers(payments: pl.LazyFrame) -> pl.DataFrame:
    """Per user and currency of one merchant's payments: their count, spend,
    first and last date, by user_id and currency."""
    return (payments.group_by("user_id", "currency")
            .agg(transactions=pl.len().cast(pl.Int64), spend=(-AMOUNT).sum(),
                 first_purchase=DAY.min().dt.to_string("%Y-%m-%d"),
                 last_purchase=DAY.max().dt.to_string("%Y-%m-%d"))
            .sort("user_id", "currency")
            .collect())


def _score(figure: pl.Expr, more_is_better: bool) -> pl.Expr:
    """1 + 5 b // n over all rows, b the number of rows strictly worse: a
    "min" rank counts the rows ordered before a value's ties, plus one."""
    worse = figure.rank("min", descending=not more_is_better).cast(pl.Int64) - 1
    return 1 + 5 * worse // pl.len()


def _open_on(day: dt.date) -> pl.Expr:
    """Open on `day`: opened on or before it, and not closed on or before it."""
    return ((pl.col("opened_on").is_null() | (pl.col("opened_on") <= day))
            & (pl.col("closed_on").is_null() | (pl.col("closed_on") > day)))


def _nest(rows: pl.LazyFrame, list_name: str, order: list[str], fields: list[str]
          ) -> pl.DataFrame:
    """One row per user, ordered by user_id, with the list `list_name` of
    their rows ordered by `order`. Polars orders strings by their UTF-8
    bytes, which is the SPEC's order, and keeps row order inside groups."""
    return (rows.sort("user_id", *order)
            .group_by("user_id", maintain_order=True)
            .agg(pl.struct(fields).alias(list_name))
            .collect())
