{{
    config(
        materialized='incremental',
        incremental_strategy=incremental_strategy(),
        unique_key='key_hash',
        partition_by=incremental_partition_by('bill_month'),
        on_schema_change='fail',
        post_hook=["{{ record_absorbed_deliveries() }}", "{{ drop_staged('keys') }}", "{{ drop_staged('rows') }}"],
    )
}}

{#-
    Each distinct delivered bill once, over the union of all deliveries: how many identical copies
    came, where its first copy came from (delivery, line) and why it cannot be used (null: accepted).
    A bill id delivered with different contents, in one delivery or in two, is rejected in every
    version: which one is right cannot be known.  A bill is dated in the future when its month is
    after the month of its delivery date plus future_bill_tolerance_months (SPEC 6; for identical
    copies, the latest delivery's date: a copy delivered once the month is over makes it plausible).

    Incremental (see delivered_rows_ctes): a build judges the new deliveries' bills, the bills
    already kept under the same ids, and the bills of the customers whose acceptance changed since.
-#}
with

customers as (

    select * from {{ ref('int_customer_ids_resolved') }}

),

{{ delivered_rows_ctes(
    staged=ref('stg_telecom__billing'),
    key='bill_id',
    columns=['bill_id', 'customer_id', 'bill_month_text', 'amount_text'],
    carried=['bill_month', 'amount'],
    touched=keys_of_customers_resolved_since_last_build(),
) }},

judged as (

    select
        distinct_rows.*,
        case
            when distinct_rows.bill_id is null then 'missing_bill_id'
            when distinct_rows.latest_versions > 1 then 'conflicting_duplicate_id'
            when distinct_rows.customer_id is null then 'missing_customer_id'
            when distinct_rows.bill_month_text is null then 'missing_bill_month'
            when distinct_rows.bill_month is null then 'unreadable_bill_month'
            when distinct_rows.amount_text is null then 'missing_amount'
            when distinct_rows.amount is null then 'unreadable_amount'
            when
                distinct_rows.bill_month > {{ add_months(
                    month_start('distinct_rows.latest_delivered_on'), var('future_bill_tolerance_months')
                ) }}
                then 'bill_month_in_future'
            when customers.customer_id is null then 'unknown_customer'
            when not customers.has_accepted_version then 'customer_rejected'
        end as rejection_reason
    from distinct_rows
    left join customers
        on distinct_rows.customer_id = customers.customer_id

),

final as (

    select
        -- ids
        bill_id,
        customer_id,
        delivery_id,
        key_hash,

        -- strings
        bill_month_text,
        amount_text,

        -- numbers
        amount,

        -- dates
        bill_month,

        -- outcome and bookkeeping (macros/delivered_rows.sql)
        {{ delivered_row_outcome([
            ('bill_id', 'bill_id'),
            ('customer_id', 'customer_id'),
            ('bill_month', 'bill_month_text'),
            ('amount', 'amount_text'),
        ]) }}
    from judged

)

select * from final
