{{ config(grants=published_grants()) }}

{#-
    Every delivered row accounted for, per raw table: raw_rows = accepted_rows + rejected_rows +
    exact_duplicate_rows.  Rows are counted once per distinct content (accepted, rejected); further
    identical copies are exact duplicates.  raw_rows is counted from staging, which holds every raw row.
-#}
with

stg_subscriptions as (

    select * from {{ ref('stg_telecom__subscriptions') }}

),

stg_billing as (

    select * from {{ ref('stg_telecom__billing') }}

),

stg_suspensions as (

    select * from {{ ref('stg_telecom__suspensions') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}

),

billing as (

    select * from {{ ref('int_billing_validated') }}

),

suspensions as (

    select * from {{ ref('int_suspensions_validated') }}

),

raw_counts as (

    select
        'subscriptions' as source_table,
        count(*) as raw_rows
    from stg_subscriptions
    union all
    select
        'billing' as source_table,
        count(*) as raw_rows
    from stg_billing
    union all
    select
        'suspensions' as source_table,
        count(*) as raw_rows
    from stg_suspensions

),

outcomes as (

    select
        'subscriptions' as source_table,
        rejection_reason,
        copies
    from subscriptions
    union all
    select
        'billing' as source_table,
        rejection_reason,
        copies
    from billing
    union all
    select
        'suspensions' as source_table,
        rejection_reason,
        copies
    from suspensions

),

outcome_counts as (

    select
        source_table,
        sum(case when rejection_reason is null then 1 else 0 end) as accepted_rows,
        sum(case when rejection_reason is not null then 1 else 0 end) as rejected_rows,
        sum(case when rejection_reason = 'superseded' then 1 else 0 end) as superseded_rows,
        sum(copies - 1) as exact_duplicate_rows
    from outcomes
    group by source_table

),

final as (

    select
        cast(raw_counts.source_table as {{ dbt.type_string() }}) as source_table,
        cast(raw_counts.raw_rows as {{ dbt.type_bigint() }}) as raw_rows,
        cast(coalesce(outcome_counts.accepted_rows, 0) as {{ dbt.type_bigint() }}) as accepted_rows,
        cast(coalesce(outcome_counts.rejected_rows, 0) as {{ dbt.type_bigint() }}) as rejected_rows,
        cast(coalesce(outcome_counts.superseded_rows, 0) as {{ dbt.type_bigint() }}) as superseded_rows,
        cast(coalesce(outcome_counts.exact_duplicate_rows, 0) as {{ dbt.type_bigint() }}) as exact_duplicate_rows
    from raw_counts
    left join outcome_counts
        on raw_counts.source_table = outcome_counts.source_table

)

select * from final
