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

repeated_id_hashes as (

    -- Ids delivered more than once are rare; finding them is the costly part, so it is done on a
    -- 64-bit hash of the id (a small fixed-width key) instead of on the rows' text.  Two ids
    -- sharing a hash only send both to the exact path below, so the result never depends on it.
    select {{ hash_of('bill_id') }} as id_hash
    from billing
    group by {{ hash_of('bill_id') }}
    having count(*) > 1

),

billing_routed as (

    select
        billing.*,
        billing.bill_id is null or repeated_id_hashes.id_hash is not null as needs_comparing
    from billing
    left join repeated_id_hashes
        on {{ hash_of('billing.bill_id') }} = repeated_id_hashes.id_hash

),

rows_to_compare as (

    select * from billing_routed
    where needs_comparing

),

compared_rows as (

    -- each distinct row once, with its copies; an id left with several versions is conflicting
    select
        *,
        bill_id is not null and count(*) over (partition by bill_id) > 1 as has_conflicting_id
    from (
        {{ collapse_exact_duplicates('rows_to_compare', [
            'bill_id',
            'customer_id',
            'bill_month_text',
            'amount_text',
            'bill_month',
            'amount',
        ]) }}
    ) as collapsed

),

distinct_rows as (

    select
        bill_id,
        customer_id,
        bill_month_text,
        amount_text,
        bill_month,
        amount,
        1 as copies,
        false as has_conflicting_id
    from billing_routed
    where not needs_comparing

    union all

    select
        bill_id,
        customer_id,
        bill_month_text,
        amount_text,
        bill_month,
        amount,
        copies,
        has_conflicting_id
    from compared_rows

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
