{{ config(grants=published_grants()) }}

{#-
    Every delivered row accounted for, per raw table, over all deliveries: raw_rows = accepted_rows +
    rejected_rows + exact_duplicate_rows + waiting_rows (bills and suspensions whose customer has not
    been delivered yet, on the as-of date: SPEC 8).  Distinct rows are counted once (accepted,
    rejected or waiting); each
    further identical copy, in any delivery, is an exact duplicate.  raw_rows is counted from staging,
    which holds every raw row, and the duplicates from the copies the validation models counted, so
    the balance is a real check (assert_reconciliation_balances).
-#}
with

counted as (

    select * from {{ ref('int_deliveries_counted') }}

),

raw_tables as (

    select 'subscriptions' as source_table
    union all
    select 'billing' as source_table
    union all
    select 'suspensions' as source_table

),

totals as (

    select
        source_table,
        sum(raw_rows) as raw_rows,
        sum(accepted_rows) as accepted_rows,
        sum(rejected_rows) as rejected_rows,
        sum(superseded_rows) as superseded_rows,
        sum(further_copies) as exact_duplicate_rows,
        sum(waiting_rows) as waiting_rows
    from counted
    group by source_table

),

final as (

    select
        cast(raw_tables.source_table as {{ dbt.type_string() }}) as source_table,
        cast(coalesce(totals.raw_rows, 0) as {{ dbt.type_bigint() }}) as raw_rows,
        cast(coalesce(totals.accepted_rows, 0) as {{ dbt.type_bigint() }}) as accepted_rows,
        cast(coalesce(totals.rejected_rows, 0) as {{ dbt.type_bigint() }}) as rejected_rows,
        cast(coalesce(totals.superseded_rows, 0) as {{ dbt.type_bigint() }}) as superseded_rows,
        cast(coalesce(totals.exact_duplicate_rows, 0) as {{ dbt.type_bigint() }}) as exact_duplicate_rows,
        cast(coalesce(totals.waiting_rows, 0) as {{ dbt.type_bigint() }}) as waiting_rows
    from raw_tables
    left join totals
        on raw_tables.source_table = totals.source_table

)

select * from final
