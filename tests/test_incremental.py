"""Incremental builds give exactly what a full refresh gives (SPEC 6's invariant).

After any sequence of loads and builds, the marts, the audit tables and the state the incremental
models keep equal, row for row and column by column, those of a `--full-refresh` over the same raw
tables; and the mart equals the independent reference's scores.  The sequences are the
cross-delivery cases of the deliveries scenario, one build after each load (a reload of a delivery
already built among them), and random splits drawn by Hypothesis of generated data with the bad-row
catalogue mixed in, into random deliveries with random copies, dates and build points
(tests/warehouses.py; test_postgres.py runs the same sequences on PostgreSQL), and monthly
deliveries whose customers arrive one to three months after their bills, or never (SPEC 8's waiting
rows).

The builds here run the seeds and models only (no tests, the way `credit-score build` chooses between
incremental and full refresh); the tests, publishing and the guards are covered elsewhere.  All
builds score the same as-of date and write the same work file, so dbt parses the project once.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.warehouses import (
    DuckDBWarehouse,
    catalogue,
    check_a_random_plan,
    check_a_wrong_delivery_removed,
    check_late_customers,
    check_the_scenario_built_after_every_load,
    delivery_plans,
    late_customer_plans,
    late_data,
)


def test_the_scenario_built_after_every_load_equals_a_full_refresh(scenario, tmp_path):
    check_the_scenario_built_after_every_load(DuckDBWarehouse(tmp_path), scenario)


@pytest.fixture(scope="module")
def catalogue_data(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("catalogue")
    return catalogue(tmp), DuckDBWarehouse(tmp / "warehouse")


@settings(
    max_examples=3,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=delivery_plans())
def test_random_deliveries_built_incrementally_equal_a_full_refresh_and_the_reference(catalogue_data, plan):
    data, warehouse = catalogue_data
    warehouse.reset()
    check_a_random_plan(warehouse, data, plan)


@settings(
    max_examples=1,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=delivery_plans(), wrong_share=st.sampled_from([0.05, 0.3]))
def test_a_wrong_delivery_removed_leaves_what_the_others_give(catalogue_data, plan, wrong_share):
    """`credit-score deliveries remove`: the invariant holds across a removal (issue 27)."""
    data, warehouse = catalogue_data
    warehouse.reset()
    check_a_wrong_delivery_removed(warehouse, data, plan, wrong_share)


@pytest.fixture(scope="module")
def late(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("late")
    return late_data(tmp), DuckDBWarehouse(tmp / "warehouse")


@settings(
    max_examples=2,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(plan=late_customer_plans())
def test_customers_delivered_after_their_bills_wait_and_equal_a_full_refresh(late, plan):
    """SPEC 8: bills and suspensions wait for their customer, are accepted when it arrives and become
    unknown_customer rejects after max_wait_months, build after build; the end equals a full refresh."""
    data, warehouse = late
    warehouse.reset()
    assert check_late_customers(warehouse, data, plan) > 0, "some rows waited"


def test_kept_keys_read_again_instead_of_listed_equal_a_full_refresh(scenario, tmp_path):
    """Past var kept_keys_literal_limit (10,000: a month's subscriptions at a million customers update
    about that many) an incremental validation model reads the keys of its kept rows to judge again
    from the query that found them instead of a literal list in its SQL.  The scenario with the limit
    at 0 takes that way in each build that judges kept rows again; every table still equals a full
    refresh's."""
    warehouse = DuckDBWarehouse(tmp_path)
    warehouse.variables = {"kept_keys_literal_limit": 0}
    check_the_scenario_built_after_every_load(warehouse, scenario)
    read_again = {
        result.name
        for outcome in warehouse.outcomes or []
        for result in outcome.results
        if result.compiled_code and "select distinct kept.key_hash" in result.compiled_code
    }
    assert {"int_billing_validated", "int_subscriptions_validated"} <= read_again, read_again
