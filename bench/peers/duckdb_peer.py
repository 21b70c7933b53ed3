"""SPEC §4 in DuckDB SQL, as an analyst would write it (bench/peers).

Each segment type is one function that runs its SQL against the in-memory
tables `accounts` and `transactions` and returns the members nested per
user, in finseg's order: users by user_id, rows inside a user as
docs/decisions.md says; MERCHANT_AFFINITY's members are flat rows (a
merchant's or a customer's) in that type's order. DuckDB's default
(binary) collation compares strings by their UTF-8 bytes, which is the
SPEC's order, so plain ORDER BY is enough. Money stays integer (BIGINT,
sums HUGEINT cast back); averages, medians and standard deviations are
DOUBLE.

What SQL cannot say exactly the Python way (which label is in which group,
the case-folded provider key) is computed in Python over the few distinct
labels or names and joined as a small table, inside `run`, so it is timed.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import duckdb
import pyarrow as pa

from . import Query, group_order, label_groups, rfm_segments, three_metric_rule

#: N complete months before as_of's month: [win_start, win_stop).
WINDOW = """
    win AS (
        SELECT CAST(date_trunc('month', $as_of::DATE) - to_months($months) AS DATE)
                   AS win_start,
               CAST(date_trunc('month', $as_of::DATE) AS DATE) AS win_stop)"""

#: Month index 0..N-1 of a date inside the window.
MONTH_INDEX = ("(year({d}) * 12 + month({d}) "
               "- year(win.win_start) * 12 - month(win.win_start))")

# \s of a str pattern is what str.isspace() calls white space (decisions.md).
_SPACES = re.compile(r"\s+")


def make(accounts: Path, transactions: Path) -> DuckDBPeer:
    """Loads both files into an in-memory database (not timed)."""
    con = duckdb.connect()
    con.execute("SET threads = 2")
    con.execute("CREATE TABLE accounts AS SELECT * FROM read_parquet($path)",
                {"path": str(accounts)})
    # The columns the segments read (as the Polars peer); the IBAN, purpose
    # and MCC are not loaded. A missing label or name means an empty one.
    con.execute("""
        CREATE TABLE transactions AS
        SELECT transaction_id, account_id, booking_date, amount,
               coalesce(label, '') AS label,
               coalesce(counterparty_name, '') AS counterparty_name
        FROM read_parquet($path)""", {"path": str(transactions)})
    return DuckDBPeer(con)


class DuckDBPeer:
    """The benchmark's DuckDB engine over one bank."""

    name = "DuckDB"

    def __init__(self, con: duckdb.DuckDBPyConnection) -> None:
        self.con = con

    def run(self, query: Query) -> pa.Table:
        segment = {"HIGH_BALANCE": high_balance, "LOW_BALANCE": low_balance,
                   "RULE": rule,
                   "INCOME_SPENDING_SUMMARY": income_spending_summary,
                   "FINANCIAL_BREAKDOWN": financial_breakdown,
                   "INSURANCE_SPENDING": insurance_spending, "RFM": rfm,
                   "MERCHANT_AFFINITY": merchant_affinity}[query.type]
        return segment(self.con, query)

    def members(self, result: pa.Table) -> list[dict[str, Any]]:
        # `run` already nests and orders the members as finseg does, with
        # dates as ISO strings and frequencies by name.
        return result.to_pylist()


def _arrow(con: duckdb.DuckDBPyConnection, sql: str, params: dict[str, Any]) -> pa.Table:
    return con.sql(sql, params=params).to_arrow_table()


def high_balance(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Accounts open on as_of with EOD(as_of) > threshold, EOD(as_of) =
    balance + S(as_of) - S(balance_date) over all the account's rows."""
    return _arrow(con, """
        WITH open_accounts AS (
            SELECT * FROM accounts
            WHERE currency = $currency
              AND (opened_on IS NULL OR opened_on <= $as_of)
              AND (closed_on IS NULL OR $as_of < closed_on)),
        eod AS (
            SELECT a.user_id, a.account_id, a.currency,
                   CAST(a.balance + coalesce(sum(t.amount) FILTER (
                            WHERE t.booking_date <= $as_of), 0)
                        - coalesce(sum(t.amount) FILTER (
                            WHERE t.booking_date <= a.balance_date), 0) AS BIGINT) AS amount
            FROM open_accounts a LEFT JOIN transactions t USING (account_id)
            GROUP BY a.user_id, a.account_id, a.currency, a.balance)
        SELECT user_id,
               list({'account_id': account_id, 'currency': currency, 'amount': amount}
                    ORDER BY account_id) AS accounts
        FROM eod
        WHERE amount > $threshold
        GROUP BY user_id
        ORDER BY user_id""",
        {"currency": q.currency, "as_of": q.as_of, "threshold": q.threshold})


def monthly_lows(every_month: bool) -> str:
    """CTEs (after WINDOW, with $currency and $months) ending in
    `monthly_low(account_id, k, low)`: the lowest EOD of each account in the
    currency over its open days of month k, for each month in which it was
    open on some day; with `every_month`, only of the accounts open on some
    day of every month (LOW_BALANCE's; RULE's low_balance_months reads all).

    EOD only changes on booking days, so a month's lowest EOD is the lowest of
    the EOD on its first open day (carried in from before) and on its booking
    days on which the account is open. Inside the window EOD(d) = opening +
    R(d), where opening = EOD(win_start - 1) and R(d) is the running sum of the
    window's rows up to d. One running sum over the window's rows and a
    0.00 marker on each month's first open day gives R on all those days:
    the default RANGE frame gives every row of a day the sum up to its end.
    A month without an open day adds nothing: its marker falls on a closed
    day or on a later month's first open day, where that month has its own."""
    opened = "bool_and" if every_month else "bool_or"
    return f"""
        months AS (
            SELECT k, CAST(win_start + to_months(k) AS DATE) AS month_start,
                      CAST(win_start + to_months(k + 1) AS DATE) AS month_stop
            FROM win, range($months) AS r(k)),
        open_days AS (  -- each account's open days [first_day, stop_day) per month
            SELECT a.account_id, m.k,
                   greatest(m.month_start, coalesce(a.opened_on, m.month_start)) AS first_day,
                   least(m.month_stop, coalesce(a.closed_on, m.month_stop)) AS stop_day
            FROM accounts a, months m
            WHERE a.currency = $currency),
        candidate AS (  -- open on some day of every month, or of some month
            SELECT a.account_id, a.opened_on, a.closed_on
            FROM open_days JOIN accounts a USING (account_id)
            GROUP BY ALL HAVING {opened}(first_day < stop_day)),
        opening AS (  -- EOD(win_start - 1) = balance + S(win_start - 1) - S(balance_date)
            SELECT a.account_id,
                   a.balance + coalesce(sum(t.amount) FILTER (
                       WHERE t.booking_date < win.win_start), 0)
                   - coalesce(sum(t.amount) FILTER (
                       WHERE t.booking_date <= a.balance_date), 0) AS eod
            FROM win, candidate c JOIN accounts a USING (account_id)
                 LEFT JOIN transactions t USING (account_id)
            GROUP BY a.account_id, a.balance),
        event AS (  -- the window's rows, and a 0.00 marker on each month's first open day
            SELECT t.account_id, t.booking_date AS day, t.amount
            FROM win, candidate c JOIN transactions t USING (account_id)
            WHERE t.booking_date >= win.win_start AND t.booking_date < win.win_stop
            UNION ALL
            SELECT account_id, first_day, 0 FROM open_days SEMI JOIN candidate USING (account_id)),
        running AS (
            SELECT account_id, day, sum(amount) OVER (PARTITION BY account_id ORDER BY day) AS r
            FROM event),
        monthly AS (
            SELECT c.account_id, {MONTH_INDEX.format(d='day')} AS k, min(r) AS low
            FROM win, running JOIN candidate c USING (account_id)
            WHERE (c.opened_on IS NULL OR c.opened_on <= day)
              AND (c.closed_on IS NULL OR day < c.closed_on)
            GROUP BY ALL),
        monthly_low AS (
            SELECT account_id, k, p.eod + m.low AS low
            FROM monthly m JOIN opening p USING (account_id))"""


def low_balance(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Accounts whose lowest EOD over their open days is below the threshold
    in each of the N complete months (`monthly_lows`)."""
    return _arrow(con, f"""
        WITH {WINDOW}, {monthly_lows(every_month=True)},
        qualifying AS (
            SELECT a.user_id, a.account_id, a.currency,
                   CAST(min(m.low) AS BIGINT) AS amount,
                   list(CAST(m.low AS BIGINT) ORDER BY m.k) AS monthly_minimums
            FROM monthly_low m JOIN accounts a USING (account_id)
            GROUP BY a.user_id, a.account_id, a.currency
            HAVING max(m.low) < $threshold)
        SELECT user_id,
               list({{'account_id': account_id, 'currency': currency, 'amount': amount,
                     'monthly_minimums': monthly_minimums}} ORDER BY account_id) AS accounts
        FROM qualifying
        GROUP BY user_id
        ORDER BY user_id""",
        {"currency": q.currency, "as_of": q.as_of, "months": q.months,
         "threshold": q.threshold})


def rule(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """The benchmark's one RULE (RULE_3_METRICS, bench/peers), written for
    its metrics, not a parser of the language: over the users with an
    account in the currency, frequency and spend of the outgoing rows of
    (as_of - days, as_of] on any of those accounts, and the months in which
    one of them, open on some day, had its lowest EOD below the threshold
    (`monthly_lows`). avg_spend > 50 is decided on the integers; the average
    shown is spend / frequency, and missing without an outgoing row."""
    r = three_metric_rule(q)
    frequency, avg_spend, low_months = r.metrics
    return _arrow(con, f"""
        WITH {WINDOW}, {monthly_lows(every_month=False)},
        candidate_user AS (
            SELECT DISTINCT user_id FROM accounts WHERE currency = $currency),
        outgoing AS (
            SELECT a.user_id, count(*) AS frequency, sum(-t.amount) AS spend
            FROM transactions t JOIN accounts a USING (account_id)
            WHERE a.currency = $currency AND t.amount < 0
              AND t.booking_date > $as_of::DATE - $days AND t.booking_date <= $as_of
            GROUP BY a.user_id),
        low AS (
            SELECT a.user_id, count(DISTINCT m.k) AS months
            FROM monthly_low m JOIN accounts a USING (account_id)
            WHERE m.low < $threshold
            GROUP BY a.user_id),
        metric AS (
            SELECT c.user_id, coalesce(o.frequency, 0) AS frequency,
                   coalesce(o.spend, 0) AS spend, coalesce(l.months, 0) AS low_months
            FROM candidate_user c LEFT JOIN outgoing o USING (user_id)
                 LEFT JOIN low l USING (user_id))
        SELECT user_id,
               [{{'metric': $frequency_name, 'value': frequency, 'average': 0::DOUBLE,
                  'missing': false}},
                {{'metric': $avg_spend_name, 'value': 0::BIGINT,
                  'average': CASE WHEN frequency > 0 THEN spend::DOUBLE / frequency
                                  ELSE 0::DOUBLE END,
                  'missing': frequency = 0}},
                {{'metric': $low_months_name, 'value': low_months, 'average': 0::DOUBLE,
                  'missing': false}}] AS metrics
        FROM metric
        WHERE frequency > $min_frequency AND spend > $min_average * frequency
           OR low_months >= $min_low_months
        ORDER BY user_id""",
        {"currency": q.currency, "as_of": q.as_of, "days": r.days, "months": r.months,
         "threshold": r.threshold, "min_frequency": r.min_frequency,
         "min_average": r.min_average, "min_low_months": r.min_low_months,
         "frequency_name": frequency, "avg_spend_name": avg_spend,
         "low_months_name": low_months})


def income_spending_summary(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Per user and currency with a row in [from, to]: count and sum of the
    incoming and of the outgoing rows."""
    return _arrow(con, """
        WITH summary AS (
            SELECT a.user_id, a.currency,
                   count(*) FILTER (WHERE t.amount > 0) AS incoming_count,
                   CAST(coalesce(sum(t.amount) FILTER (WHERE t.amount > 0), 0) AS BIGINT)
                       AS incoming_sum,
                   count(*) FILTER (WHERE t.amount < 0) AS outgoing_count,
                   CAST(coalesce(sum(t.amount) FILTER (WHERE t.amount < 0), 0) AS BIGINT)
                       AS outgoing_sum
            FROM transactions t JOIN accounts a USING (account_id)
            WHERE t.booking_date BETWEEN $from_date AND $to_date
            GROUP BY a.user_id, a.currency)
        SELECT user_id,
               list({'currency': currency, 'incoming_count': incoming_count,
                     'incoming_sum': incoming_sum, 'outgoing_count': outgoing_count,
                     'outgoing_sum': outgoing_sum} ORDER BY currency) AS currencies
        FROM summary
        GROUP BY user_id
        ORDER BY user_id""",
        {"from_date": q.from_date, "to_date": q.to_date})


def financial_breakdown(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Per user, requested group and currency with a row of the group in the N
    complete months: count, total, monthly sums (0 for an empty month) and
    their statistics. The label -> group table comes from the taxonomy."""
    labels = con.sql("SELECT DISTINCT label FROM transactions").fetchall()
    position = group_order(q.label_groups)
    pairs = label_groups([label for (label,) in labels], q.label_groups)
    con.register("label_group", pa.table({
        "label": pa.array([label for label, _ in pairs], pa.string()),
        "label_group": pa.array([group for _, group in pairs], pa.string()),
        "position": pa.array([position[group] for _, group in pairs], pa.int32())}))
    # One sum per month, 0 where nothing was booked (a pivot over N <= 12).
    monthly = ", ".join(f"coalesce(sum(amount) FILTER (WHERE k = {k}), 0)"
                        for k in range(q.months))
    try:
        return _arrow(con, f"""
            WITH {WINDOW},
            cell AS (
                SELECT a.user_id, g.position, g.label_group, a.currency, t.amount,
                       {MONTH_INDEX.format(d='t.booking_date')} AS k
                FROM win, transactions t
                     JOIN label_group g USING (label)
                     JOIN accounts a USING (account_id)
                WHERE t.booking_date >= win.win_start AND t.booking_date < win.win_stop),
            breakdown AS (
                SELECT user_id, position, label_group, currency, count(*) AS count,
                       CAST(sum(amount) AS BIGINT) AS total,
                       CAST([{monthly}] AS BIGINT[]) AS monthly_sums
                FROM cell
                GROUP BY user_id, position, label_group, currency)
            SELECT user_id,
                   list({{'label_group': label_group, 'currency': currency, 'count': count,
                         'total': total, 'monthly_sums': monthly_sums,
                         'average': CAST(total AS DOUBLE) / $months,
                         'min': list_min(monthly_sums), 'max': list_max(monthly_sums),
                         'median': list_median(CAST(monthly_sums AS DOUBLE[])),
                         'std_dev': list_stddev_pop(CAST(monthly_sums AS DOUBLE[]))}}
                        ORDER BY position, currency) AS groups
            FROM breakdown
            GROUP BY user_id
            ORDER BY user_id""", {"as_of": q.as_of, "months": q.months})
    finally:
        con.unregister("label_group")


def provider_key(name: str) -> str:
    """SPEC §4: case-folded, white space runs made one space, trimmed."""
    return _SPACES.sub(" ", name.casefold()).strip()


def insurance_spending(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Contracts per user, currency, provider key and insurance type over the
    outgoing INSURANCE rows of the N complete months. The payments are kept
    in a temporary table so that only their few distinct counterparty names
    go through Python's casefold."""
    labels = con.sql("SELECT DISTINCT label FROM transactions").fetchall()
    insurance = [label for label, _ in label_groups([label for (label,) in labels],
                                                    ["INSURANCE"])]
    # The type is the label's second level; plain INSURANCE is OTHER.
    types = [label.split(".")[1] if "." in label else "OTHER" for label in insurance]
    keep = [i for i, t in enumerate(types) if not q.insurance_types or t in q.insurance_types]
    con.register("insurance_label", pa.table({
        "label": pa.array([insurance[i] for i in keep], pa.string()),
        "insurance_type": pa.array([types[i] for i in keep], pa.string())}))
    try:
        con.execute(f"""
            CREATE OR REPLACE TEMP TABLE insurance_payment AS
            WITH {WINDOW}
            SELECT a.user_id, a.currency, i.insurance_type, t.transaction_id, t.booking_date,
                   t.amount, t.counterparty_name
            FROM win, transactions t
                 JOIN insurance_label i USING (label)
                 JOIN accounts a USING (account_id)
            WHERE t.amount < 0
              AND t.booking_date >= win.win_start AND t.booking_date < win.win_stop""",
                    {"as_of": q.as_of, "months": q.months})
        names = con.sql("SELECT DISTINCT counterparty_name FROM insurance_payment").fetchall()
        con.register("provider", pa.table({
            "counterparty_name": pa.array([name for (name,) in names], pa.string()),
            "provider_key": pa.array([provider_key(name) for (name,) in names], pa.string())}))
        return _arrow(con, """
            WITH payment AS (
                SELECT * FROM insurance_payment JOIN provider USING (counterparty_name)),
            gaps AS (  -- median gap between consecutive distinct payment dates
                SELECT user_id, currency, provider_key, insurance_type, median(gap) AS gap
                FROM (SELECT *, booking_date - lag(booking_date) OVER (
                                    PARTITION BY user_id, currency, provider_key,
                                                 insurance_type
                                    ORDER BY booking_date) AS gap
                      FROM (SELECT DISTINCT user_id, currency, provider_key, insurance_type,
                                            booking_date FROM payment))
                WHERE gap IS NOT NULL
                GROUP BY ALL),
            contract AS (
                SELECT user_id, currency, provider_key, insurance_type,
                       first(counterparty_name ORDER BY booking_date DESC,
                             transaction_id DESC) AS provider_name,
                       count(*) AS payment_count,
                       min(booking_date) AS first_payment, max(booking_date) AS last_payment,
                       median(CAST(-amount AS DOUBLE)) AS typical_amount,
                       CAST(-sum(amount) AS DOUBLE) AS paid
                FROM payment
                GROUP BY user_id, currency, provider_key, insurance_type),
            rated AS (
                SELECT c.*,
                       CASE WHEN g.gap IS NULL THEN 'ONCE'
                            WHEN g.gap BETWEEN 25 AND 35 THEN 'MONTHLY'
                            WHEN g.gap BETWEEN 80 AND 100 THEN 'QUARTERLY'
                            WHEN g.gap BETWEEN 170 AND 195 THEN 'HALF_YEARLY'
                            WHEN g.gap BETWEEN 350 AND 380 THEN 'YEARLY'
                            ELSE 'IRREGULAR' END AS frequency
                FROM contract c
                     LEFT JOIN gaps g USING (user_id, currency, provider_key, insurance_type))
            SELECT user_id,
                   list({'provider_key': provider_key, 'provider_name': provider_name,
                         'insurance_type': insurance_type, 'currency': currency,
                         'payment_count': payment_count,
                         'first_payment': CAST(first_payment AS VARCHAR),
                         'last_payment': CAST(last_payment AS VARCHAR),
                         'typical_amount': typical_amount, 'frequency': frequency,
                         'annual_cost': CASE frequency
                             WHEN 'MONTHLY' THEN typical_amount * 12
                             WHEN 'QUARTERLY' THEN typical_amount * 4
                             WHEN 'HALF_YEARLY' THEN typical_amount * 2
                             WHEN 'YEARLY' THEN typical_amount
                             ELSE paid END}
                        ORDER BY provider_key, insurance_type, currency) AS contracts
            FROM rated
            GROUP BY user_id
            ORDER BY user_id""", {})
    finally:
        con.execute("DROP TABLE IF EXISTS insurance_payment")
        con.unregister("provider")
        con.unregister("insurance_label")


def rfm(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Per user with an outgoing row of the currency in (as_of - window,
    as_of] (with groups: labelled in one): recency, frequency, monetary,
    their 1-5 scores 1 + 5 b // n, where b counts the users strictly worse,
    from rank(), which is 1 + the number of rows ordered before a value's
    ties; the code, and the segment name joined from the grid."""
    labels = con.sql("SELECT DISTINCT label FROM transactions").fetchall()
    pairs = label_groups([label for (label,) in labels], q.label_groups)
    con.register("rfm_label", pa.table({"label": pa.array(sorted({label for label, _ in pairs}),
                                                          pa.string())}))
    con.register("rfm_segment", pa.table(rfm_segments()))
    try:
        return _arrow(con, """
            WITH spent AS (
                SELECT a.user_id, t.booking_date, -t.amount AS amount
                FROM transactions t JOIN accounts a USING (account_id)
                WHERE a.currency = $currency AND t.amount < 0
                  AND t.booking_date > $as_of::DATE - $window_days
                  AND t.booking_date <= $as_of::DATE
                  AND (NOT $grouped OR t.label IN (SELECT label FROM rfm_label))),
            figures AS (
                SELECT user_id, CAST($as_of::DATE - max(booking_date) AS INTEGER) AS recency,
                       count(*) AS frequency, CAST(sum(amount) AS BIGINT) AS monetary
                FROM spent
                GROUP BY user_id),
            scored AS (
                SELECT *,
                       1 + 5 * (rank() OVER (ORDER BY recency DESC) - 1)
                           // count(*) OVER () AS r_score,
                       1 + 5 * (rank() OVER (ORDER BY frequency) - 1)
                           // count(*) OVER () AS f_score,
                       1 + 5 * (rank() OVER (ORDER BY monetary) - 1)
                           // count(*) OVER () AS m_score
                FROM figures)
            SELECT s.user_id, s.recency, s.frequency, s.monetary, s.r_score, s.f_score,
                   s.m_score, printf('%d%d%d', s.r_score, s.f_score, s.m_score) AS rfm_code,
                   g.segment_name
            FROM scored s JOIN rfm_segment g USING (r_score, f_score)
            ORDER BY s.user_id""",
            {"currency": q.currency, "as_of": q.as_of, "window_days": q.window_days,
             "grouped": bool(q.label_groups)})
    finally:
        con.unregister("rfm_segment")
        con.unregister("rfm_label")


#: The outgoing rows of the N complete months (after WINDOW), each with its
#: merchant key from the table `merchant`, its user and its currency.
MERCHANT_PAYMENTS = """
    payment AS (
        SELECT m.merchant_key, a.user_id, a.currency, t.transaction_id, t.booking_date,
               t.amount, t.counterparty_name
        FROM win, transactions t
             JOIN merchant m USING (counterparty_name)
             JOIN accounts a USING (account_id)
        WHERE t.amount < 0
          AND t.booking_date >= win.win_start AND t.booking_date < win.win_stop)"""


def merchant_affinity(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """The merchants ranked by customers over the outgoing rows of the N
    complete months, or with a counterparty that merchant's customers. As
    for INSURANCE_SPENDING, only the window's few distinct counterparty
    names go through Python's casefold (`register_merchants`)."""
    register_merchants(con, q)
    try:
        return (merchant_customers if q.counterparty else merchant_ranking)(con, q)
    finally:
        con.unregister("merchant")


def register_merchants(con: duckdb.DuckDBPyConnection, q: Query) -> None:
    """The table `merchant(counterparty_name, merchant_key)` of the names of
    the window's outgoing rows; for a drill-down only the names keyed as the
    counterparty, so that the join keeps only that merchant's rows."""
    names = con.sql(f"""
        WITH {WINDOW}
        SELECT DISTINCT t.counterparty_name
        FROM win, transactions t
        WHERE t.amount < 0
          AND t.booking_date >= win.win_start AND t.booking_date < win.win_stop""",
                    params={"as_of": q.as_of, "months": q.months}).fetchall()
    keys = [(name, provider_key(name)) for (name,) in names]
    if q.counterparty:
        wanted = provider_key(q.counterparty)
        keys = [(name, key) for name, key in keys if key == wanted]
    con.register("merchant", pa.table({
        "counterparty_name": pa.array([name for name, _ in keys], pa.string()),
        "merchant_key": pa.array([key for _, key in keys], pa.string())}))


def merchant_ranking(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Per merchant key and currency with at least min_customers customers:
    distinct users, payments, spend, and the name of the latest payment
    (greatest date, then the greatest spelling: VARCHAR compares bytes)."""
    return _arrow(con, f"""
        WITH {WINDOW}, {MERCHANT_PAYMENTS}
        SELECT merchant_key,
               first(counterparty_name ORDER BY booking_date DESC, counterparty_name DESC)
                   AS merchant_name,
               currency, count(DISTINCT user_id) AS customers, count(*) AS transactions,
               CAST(-sum(amount) AS BIGINT) AS spend
        FROM payment
        GROUP BY merchant_key, currency
        HAVING count(DISTINCT user_id) >= $min_customers
        ORDER BY customers DESC, merchant_key, currency""",
        {"as_of": q.as_of, "months": q.months, "min_customers": q.min_customers})


def merchant_customers(con: duckdb.DuckDBPyConnection, q: Query) -> pa.Table:
    """Per user and currency who paid the merchant (`merchant` holds only
    its names): payments, spend, first and last payment date."""
    return _arrow(con, f"""
        WITH {WINDOW}, {MERCHANT_PAYMENTS}
        SELECT user_id, currency, count(*) AS transactions,
               CAST(-sum(amount) AS BIGINT) AS spend,
               CAST(min(booking_date) AS VARCHAR) AS first_purchase,
               CAST(max(booking_date) AS VARCHAR) AS last_purchase
        FROM payment
        GROUP BY user_id, currency
        ORDER BY user_id, currency""", {"as_of": q.as_of, "months": q.months})
