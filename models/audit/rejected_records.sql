{{ config(grants=published_grants()) }}

{#- Every delivered row that cannot be used, once per distinct row, with its table, id and reason. -#}
with

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}

),

billing as (

    select * from {{ ref('int_billing_validated') }}

),

suspensions as (

    select * from {{ ref('int_suspensions_validated') }}

),

rejected as (

    select
        'subscriptions' as source_table,
        customer_id as record_id,
        customer_id,
        rejection_reason,
        copies,
        raw_values
    from subscriptions
    where rejection_reason is not null

    union all

    select
        'billing' as source_table,
        bill_id as record_id,
        customer_id,
        rejection_reason,
        copies,
        raw_values
    from billing
    where rejection_reason is not null

    union all

    select
        'suspensions' as source_table,
        suspension_id as record_id,
        customer_id,
        rejection_reason,
        copies,
        raw_values
    from suspensions
    where rejection_reason is not null

),

final as (

    select
        cast(source_table as {{ dbt.type_string() }}) as source_table,
        cast(record_id as {{ dbt.type_string() }}) as record_id,
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(rejection_reason as {{ dbt.type_string() }}) as rejection_reason,
        cast(raw_values as {{ dbt.type_string() }}) as raw_values,
        cast(copies as integer) as delivered_copies
    from rejected

)

select * from final
