{#-
    Each distinct delivered bill once, with how many identical copies were delivered and why it cannot
    be used (null: accepted).  A bill id delivered with different contents is rejected in every
    version: which one is right cannot be known.  Bills for a month more than
    future_bill_tolerance_months after the month of the export (the latest updated_at of the accepted
    subscriptions) are rejected as dated in the future.
-#}
with

billing as (

    select * from {{ ref('stg_telecom__billing') }}

),

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}

),

customers as (

    select * from {{ ref('int_customer_ids_resolved') }}

),

export_month as (

    -- an aggregate: always one row
    select
        {{ add_months(month_start('max(updated_at)'), var('future_bill_tolerance_months')) }}
            as latest_plausible_bill_month
    from subscriptions
    where rejection_reason is null

),

distinct_rows as (

    {{ collapse_exact_duplicates('billing', [
        'bill_id',
        'customer_id',
        'bill_month_text',
        'amount_text',
        'bill_month',
        'amount',
    ]) }}

),

judged as (

    select
        distinct_rows.*,
        case
            when distinct_rows.bill_id is null then 'missing_bill_id'
            when count(*) over (partition by distinct_rows.bill_id) > 1 then 'conflicting_duplicate_id'
            when distinct_rows.customer_id is null then 'missing_customer_id'
            when distinct_rows.bill_month_text is null then 'missing_bill_month'
            when distinct_rows.bill_month is null then 'unreadable_bill_month'
            when distinct_rows.amount_text is null then 'missing_amount'
            when distinct_rows.amount is null then 'unreadable_amount'
            when distinct_rows.bill_month > export_month.latest_plausible_bill_month then 'bill_month_in_future'
            when customers.customer_id is null then 'unknown_customer'
            when not customers.has_accepted_version then 'customer_rejected'
        end as rejection_reason
    from distinct_rows
    cross join export_month
    left join customers
        on distinct_rows.customer_id = customers.customer_id

),

final as (

    select
        -- ids
        bill_id,
        customer_id,

        -- strings
        rejection_reason,
        {{ json_object_text([
            ('bill_id', 'bill_id'),
            ('customer_id', 'customer_id'),
            ('bill_month', 'bill_month_text'),
            ('amount', 'amount_text'),
        ]) }} as raw_values,

        -- numbers
        amount,
        cast(copies as integer) as copies,

        -- dates
        bill_month
    from judged

)

select * from final
