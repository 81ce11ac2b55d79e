"""Writes the small Parquet fixtures of the cost importer's tests with pyarrow, as a real-world producer would.

    python3 -m venv /tmp/pq-venv && /tmp/pq-venv/bin/pip install pyarrow
    /tmp/pq-venv/bin/python core/src/cost/testdata/make_parquet.py

Both files use snappy compression, dictionary encoding, several row groups, a MAP<string,string> tag column (with
a NULL map and an empty one), timestamps with a time zone in milli-, micro- and nanoseconds, a timestamp without one,
decimals, doubles and NULLs. The totals the tests expect are worked out by hand in `import.rs`
(`pyarrow_fixtures_import_to_hand_computed_totals`); change the rows here and there together. The committed files
were written by pyarrow 26.0.1 (the same version writes the same bytes; one test corrupts a byte of
focus-small.parquet at a fixed offset).
"""

import datetime as dt
import decimal
import pathlib

import pyarrow as pa
import pyarrow.parquet as pq

HERE = pathlib.Path(__file__).resolve().parent
UTC = dt.timezone.utc
D = decimal.Decimal
TAGS = pa.map_(pa.string(), pa.string())


def utc(*args):
    return dt.datetime(*args, tzinfo=UTC)


def write(table, name):
    pq.write_table(
        table,
        HERE / name,
        compression="snappy",
        use_dictionary=True,
        row_group_size=3,
    )


def focus():
    # 2026-11-03 20:00 in New York is 2026-11-04 01:00 UTC: the charge's day is the 4th.
    new_york = dt.timezone(dt.timedelta(hours=-5))
    rows = [
        # account, sub, provider, charge start, category, service, billed, effective, list, tags, custom
        ("111122223333", "111122223333-dev", "AWS", utc(2026, 11, 3, 10), "Usage", "Amazon EC2",
         D("12.5"), D("10.25"), 13.0, [("team", "payments"), ("service", "payments-api")], 1),
        ("111122223333", None, "AWS", utc(2026, 11, 3, 23, 59, 59, 999999), "Usage", "Amazon S3",
         D("0.0000000417"), D("0.0000000417"), 0.0000000417, None, None),
        ("111122223333", "111122223333-dev", "AWS", dt.datetime(2026, 11, 3, 20, tzinfo=new_york), "Credit",
         "Amazon EC2", D("-3.1"), D("-3.1"), None, [], 3),
        ("111122223333", "111122223333-dev", "AWS", utc(2026, 11, 4), "Tax", None,
         D("7.77"), D("7.77"), 7.77, [("Team", " payments ")], 4),
        ("111122223333", None, "AWS", utc(2026, 11, 1), "Purchase", "Savings Plans",
         D("100"), D("0"), 100.0, [("user:Team", "platform"), ("env", None)], 5),
        ("111122223333", "111122223333-dev", "AWS", utc(2026, 11, 5, 6), "Usage", "AWS Lambda",
         None, D("1.0000000001"), None, [("service", "storefront")], 6),
    ]
    cols = list(zip(*rows))
    money = pa.decimal128(20, 10)
    table = pa.table(
        {
            "BillingAccountId": pa.array(cols[0], pa.string()),
            "SubAccountId": pa.array(cols[1], pa.string()),
            "ProviderName": pa.array(cols[2], pa.string()),
            "BillingPeriodStart": pa.array([utc(2026, 11, 1)] * len(rows), pa.timestamp("ms", tz="UTC")),
            "BillingPeriodEnd": pa.array([utc(2026, 12, 1)] * len(rows), pa.timestamp("ms", tz="UTC")),
            "ChargePeriodStart": pa.array(cols[3], pa.timestamp("us", tz="UTC")),
            "ChargePeriodEnd": pa.array([t + dt.timedelta(hours=1) for t in cols[3]], pa.timestamp("ns", tz="UTC")),
            "ChargeCategory": pa.array(cols[4], pa.string()),
            "ServiceName": pa.array(cols[5], pa.string()),
            "BilledCost": pa.array(cols[6], money),
            "EffectiveCost": pa.array(cols[7], money),
            "ListCost": pa.array(cols[8], pa.float64()),
            "BillingCurrency": pa.array(["USD"] * len(rows), pa.string()).dictionary_encode(),
            "Tags": pa.array(cols[9], TAGS),
            "x_Custom": pa.array(cols[10], pa.int64()),
        }
    )
    write(table, "focus-small.parquet")


def cur2():
    rows = [
        # type, usage start, unblended (double), ri arn, ri effective (decimal), sp effective, sp commitment,
        # sp used, tags
        ("Usage", utc(2026, 11, 2, 10), 1.2345, None, None, None, None, None,
         [("user_team", "payments"), ("aws_createdBy", "x"), ("user_env", "prod")]),
        ("SavingsPlanCoveredUsage", utc(2026, 11, 2, 11), 2.0, None, None, D("1.5"), None, None,
         [("user_service", "storefront")]),
        ("SavingsPlanNegation", utc(2026, 11, 2, 11), -2.0, None, None, D("0"), None, None,
         [("user_service", "storefront")]),
        ("DiscountedUsage", utc(2026, 11, 3, 0), 0.0, "arn:aws:ec2:eu-west-1:111122223333:reserved-instances/ri-1",
         D("0.70000000"), None, None, None, None),
        ("Tax", utc(2026, 11, 1), 0.1, None, None, None, None, None, []),
        ("Usage", utc(2026, 11, 3, 12), 0.2, None, None, None, None, None, [("user_team", "payments")]),
        ("SavingsPlanRecurringFee", utc(2026, 11, 1), 10.0, None, None, None, D("10"), D("7.5"), None),
    ]
    cols = list(zip(*rows))
    n = len(rows)
    sp = pa.decimal128(18, 8)
    table = pa.table(
        {
            "identity_line_item_id": pa.array([f"li-{i}" for i in range(n)], pa.string()),
            "bill_payer_account_id": pa.array(["111122223333"] * n, pa.string()),
            # CUR 2.0 writes billing period bounds without a time zone.
            "bill_billing_period_start_date": pa.array([dt.datetime(2026, 11, 1)] * n, pa.timestamp("us")),
            "line_item_usage_account_id": pa.array(["444455556666"] * (n - 1) + [None], pa.string()),
            "line_item_line_item_type": pa.array(cols[0], pa.string()),
            "line_item_usage_start_date": pa.array(cols[1], pa.timestamp("ms", tz="UTC")),
            "line_item_product_code": pa.array(["AmazonEC2"] * n, pa.string()),
            "line_item_unblended_cost": pa.array(cols[2], pa.float64()),
            "line_item_currency_code": pa.array(["USD"] * n, pa.string()),
            "reservation_reservation_a_r_n": pa.array(cols[3], pa.string()),
            "reservation_effective_cost": pa.array(cols[4], sp),
            "savings_plan_savings_plan_effective_cost": pa.array(cols[5], sp),
            "savings_plan_total_commitment_to_date": pa.array(cols[6], sp),
            "savings_plan_used_commitment": pa.array(cols[7], sp),
            "product": pa.array([[("region", "eu-west-1")]] * n, TAGS),
            "resource_tags": pa.array(cols[8], TAGS),
        }
    )
    write(table, "cur2-small.parquet")


if __name__ == "__main__":
    focus()
    cur2()
