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

versions_by_id as (

    -- one pass, grouped by id (cheaper than grouping by every column): an id whose rows all agree
    -- is one distinct bill, delivered `copies` times
    select
        bill_id,
        count(*) as copies,
        min(customer_id) as customer_id,
        min(bill_month_text) as bill_month_text,
        min(amount_text) as amount_text,
        min(bill_month) as bill_month,
        min(amount) as amount,
        {{ rows_agree_on('customer_id') }}
        and {{ rows_agree_on('bill_month_text') }}
        and {{ rows_agree_on('amount_text') }} as rows_agree
    from billing
    where bill_id is not null
    group by bill_id

),

irregular_billing as (

    -- rows without an id, and every row of an id delivered with different contents (rare)
    select * from billing
    where
        bill_id is null
        or bill_id in (
            select versions_by_id.bill_id from versions_by_id
            where not versions_by_id.rows_agree
        )

),

irregular_rows as (

    {{ collapse_exact_duplicates('irregular_billing', [
        'bill_id',
        'customer_id',
        'bill_month_text',
        'amount_text',
        'bill_month',
        'amount',
    ]) }}

),

distinct_rows as (

    select
        bill_id,
        customer_id,
        bill_month_text,
        amount_text,
        bill_month,
        amount,
        copies,
        false as has_conflicting_id
    from versions_by_id
    where rows_agree

    union all

    select
        bill_id,
        customer_id,
        bill_month_text,
        amount_text,
        bill_month,
        amount,
        copies,
        bill_id is not null as has_conflicting_id
    from irregular_rows

),

judged as (

    select
        distinct_rows.*,
        case
            when distinct_rows.bill_id is null then 'missing_bill_id'
            when distinct_rows.has_conflicting_id then 'conflicting_duplicate_id'
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
        -- only where someone will read it: building JSON for every accepted row is most of the cost
        case when rejection_reason is not null then {{ json_object_text([
            ('bill_id', 'bill_id'),
            ('customer_id', 'customer_id'),
            ('bill_month', 'bill_month_text'),
            ('amount', 'amount_text'),
        ]) }} end as raw_values,

        -- numbers
        amount,
        cast(copies as integer) as copies,

        -- dates
        bill_month
    from judged

)

select * from final
