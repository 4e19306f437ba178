{#-
    Per delivery and raw table: the rows it delivered, and the outcome on the as-of date of the
    distinct rows whose first copy it holds (accepted, rejected, superseded, waiting for their
    customer) with their further identical copies, wherever those came.  A distinct row counts once,
    in the delivery of its first copy; every other copy is an exact duplicate.  Waiting rows are
    neither accepted nor rejected (SPEC 8).
-#}
with

stg_subscriptions as (

    select delivery_id from {{ ref('stg_telecom__subscriptions') }}

),

stg_billing as (

    select delivery_id from {{ ref('stg_telecom__billing') }}

),

stg_suspensions as (

    select delivery_id from {{ ref('stg_telecom__suspensions') }}

),

outcomes as (

    select * from {{ ref('int_delivered_rows_unioned') }}

),

delivered as (

    select
        'subscriptions' as source_table,
        delivery_id,
        count(*) as raw_rows
    from stg_subscriptions
    group by delivery_id

    union all

    select
        'billing' as source_table,
        delivery_id,
        count(*) as raw_rows
    from stg_billing
    group by delivery_id

    union all

    select
        'suspensions' as source_table,
        delivery_id,
        count(*) as raw_rows
    from stg_suspensions
    group by delivery_id

),

judged as (

    select
        source_table,
        delivery_id,
        sum(case when rejection_reason is null then 1 else 0 end) as accepted_rows,
        sum(case when rejection_reason <> 'waiting' then 1 else 0 end) as rejected_rows,
        sum(case when rejection_reason = 'superseded' then 1 else 0 end) as superseded_rows,
        sum(case when rejection_reason = 'waiting' then 1 else 0 end) as waiting_rows,
        sum(copies - 1) as further_copies
    from outcomes
    group by source_table, delivery_id

),

final as (

    select
        cast(delivered.source_table as {{ dbt.type_string() }}) as source_table,
        delivered.delivery_id,
        cast(delivered.raw_rows as {{ dbt.type_bigint() }}) as raw_rows,
        cast(coalesce(judged.accepted_rows, 0) as {{ dbt.type_bigint() }}) as accepted_rows,
        cast(coalesce(judged.rejected_rows, 0) as {{ dbt.type_bigint() }}) as rejected_rows,
        cast(coalesce(judged.superseded_rows, 0) as {{ dbt.type_bigint() }}) as superseded_rows,
        cast(coalesce(judged.waiting_rows, 0) as {{ dbt.type_bigint() }}) as waiting_rows,
        cast(coalesce(judged.further_copies, 0) as {{ dbt.type_bigint() }}) as further_copies,
        -- its rows that repeat a row delivered before, here or earlier
        cast(
            delivered.raw_rows
            - coalesce(judged.accepted_rows, 0)
            - coalesce(judged.rejected_rows, 0)
            - coalesce(judged.waiting_rows, 0)
            as {{ dbt.type_bigint() }}
        ) as duplicate_rows
    from delivered
    left join judged
        on
            delivered.source_table = judged.source_table
            and delivered.delivery_id = judged.delivery_id

)

select * from final
