{#-
    Each distinct delivered bill once, over the union of all deliveries: how many identical copies
    came, where its first copy came from (delivery, line) and why it cannot be used (null: accepted).
    A bill id delivered with different contents, in one delivery or in two, is rejected in every
    version: which one is right cannot be known.  A bill is dated in the future when its month is
    after the month of its delivery date plus future_bill_tolerance_months (SPEC 6; for identical
    copies, the latest delivery's date: a copy delivered once the month is over makes it plausible).
-#}
with

billing as (

    select * from {{ ref('stg_telecom__billing') }}

),

billing_ids as (

    -- The same staging rows are read three times on purpose: once with every column parsed (the
    -- bills delivered once, nearly all of them), once for the ids alone (to find the repeated ones)
    -- and once as text (the few repeated ones).  A CTE read twice would be materialised whole, which
    -- at 10 million customers (145 million bills) no longer fits in memory and spills to disk.
    select bill_id from {{ ref('stg_telecom__billing') }}

),

billing_texts as (

    select
        bill_id,
        customer_id,
        delivery_id,
        bill_month_text,
        amount_text,
        file_line,
        delivered_on
    from {{ ref('stg_telecom__billing') }}

),

customers as (

    select * from {{ ref('int_customer_ids_resolved') }}

),

repeated_id_hashes as (

    -- ids delivered more than once: rare, and the costly part to find (see the macro)
    {{ repeated_key_hashes('billing_ids', 'bill_id') }}

),

single_rows as (

    -- the common case: an id delivered once, so the row is its own distinct row and first copy
    select
        billing.bill_id,
        billing.customer_id,
        billing.delivery_id,
        billing.bill_month_text,
        billing.amount_text,
        billing.bill_month,
        billing.amount,
        billing.file_line,
        1 as copies,
        false as has_conflicting_id,
        billing.delivered_on as latest_delivered_on
    from billing
    left join repeated_id_hashes
        on {{ hash_of('billing.bill_id') }} = repeated_id_hashes.id_hash
    where
        billing.bill_id is not null
        and repeated_id_hashes.id_hash is null

),

rows_to_compare as (

    -- ids delivered more than once, and rows without an id: compared as delivered text
    select * from billing_texts
    where
        bill_id is null
        or {{ hash_of('bill_id') }} in (select repeated_id_hashes.id_hash from repeated_id_hashes)

),

compared_rows as (

    -- each distinct row once, with its copies, parsed as staging parses it; an id left with
    -- several versions is conflicting
    select
        bill_id,
        customer_id,
        delivery_id,
        bill_month_text,
        amount_text,
        {{ parse_bill_month('bill_month_text') }} as bill_month,
        {{ parse_amount('amount_text') }} as amount,
        file_line,
        copies,
        bill_id is not null and count(*) over (partition by bill_id) > 1 as has_conflicting_id,
        latest_delivered_on
    from (
        {{ first_copies('rows_to_compare', [
            'bill_id',
            'customer_id',
            'bill_month_text',
            'amount_text',
        ]) }}
    ) as collapsed

),

distinct_rows as (

    -- single_rows and compared_rows have the same columns in the same order
    select * from single_rows
    union all
    select * from compared_rows

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
        file_line,

        -- dates
        bill_month
    from judged

)

select * from final
