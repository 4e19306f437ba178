{#-
    Each distinct delivered suspension once, with how many identical copies were delivered and why it
    cannot be used (null: accepted).  A suspension id delivered with different contents is rejected in
    every version.  An unknown reason code is not a rejection: it is scored (penalised) and warned about.
-#}
with

suspensions as (

    select * from {{ ref('stg_telecom__suspensions') }}

),

customers as (

    select * from {{ ref('int_customer_ids_resolved') }}

),

distinct_rows as (

    {{ collapse_exact_duplicates('suspensions', [
        'suspension_id',
        'customer_id',
        'reason_code',
        'suspended_at_text',
        'resumed_at_text',
        'suspended_at',
        'resumed_at',
        'suspended_date',
    ]) }}

),

judged as (

    select
        distinct_rows.*,
        case
            when distinct_rows.suspension_id is null then 'missing_suspension_id'
            when count(*) over (partition by distinct_rows.suspension_id) > 1 then 'conflicting_duplicate_id'
            when distinct_rows.customer_id is null then 'missing_customer_id'
            when distinct_rows.suspended_at_text is null then 'missing_suspended_at'
            when distinct_rows.suspended_at is null then 'unreadable_suspended_at'
            when distinct_rows.resumed_at_text is not null and distinct_rows.resumed_at is null
                then 'unreadable_resumed_at'
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
        suspension_id,
        customer_id,

        -- strings
        reason_code,
        rejection_reason,
        -- only where someone will read it: building JSON for every accepted row is most of the cost
        case when rejection_reason is not null then {{ json_object_text([
            ('suspension_id', 'suspension_id'),
            ('customer_id', 'customer_id'),
            ('suspended_at', 'suspended_at_text'),
            ('resumed_at', 'resumed_at_text'),
            ('reason_code', 'reason_code'),
        ]) }} end as raw_values,

        -- numbers
        cast(copies as integer) as copies,

        -- dates
        suspended_date,

        -- timestamps
        suspended_at,
        resumed_at
    from judged

)

select * from final
