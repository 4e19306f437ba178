{{ config(materialized='view') }}

{#-
    The outcome of every distinct delivered row of the three tables, in one relation: what the audit
    models read (the quarantine, and the accounting per delivery and per table).
-#}
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

unioned as (

    select
        'subscriptions' as source_table,
        customer_id as record_id,
        customer_id,
        delivery_id,
        rejection_reason,
        raw_values,
        copies,
        file_line,
        loaded_through
    from subscriptions

    union all

    select
        'billing' as source_table,
        bill_id as record_id,
        customer_id,
        delivery_id,
        rejection_reason,
        raw_values,
        copies,
        file_line,
        loaded_through
    from billing

    union all

    select
        'suspensions' as source_table,
        suspension_id as record_id,
        customer_id,
        delivery_id,
        rejection_reason,
        raw_values,
        copies,
        file_line,
        loaded_through
    from suspensions

)

select * from unioned
