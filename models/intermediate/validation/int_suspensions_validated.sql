{#-
    Each distinct delivered suspension once, over the union of all deliveries: how many identical
    copies came, where its first copy came from (delivery, line) and why it cannot be used (null:
    accepted).  A suspension id delivered with different contents, in one delivery or in two, is
    rejected in every version.  An unknown reason code is not a rejection: it is scored (penalised)
    and warned about.
-#}
{#- the columns that make a row distinct: single rows and compared rows select them alike -#}
{%- set distinct_row_columns = [
    'suspension_id',
    'customer_id',
    'reason_code',
    'suspended_at_text',
    'resumed_at_text',
    'suspended_at',
    'resumed_at',
    'suspended_date',
] %}

with

suspensions as (

    select * from {{ ref('stg_telecom__suspensions') }}

),

-- read again, ids alone, to find the repeated ones (as for bills: most ids come once)
suspension_ids as (

    select suspension_id from {{ ref('stg_telecom__suspensions') }}

),

customers as (

    select * from {{ ref('int_customer_ids_resolved') }}

),

repeated_id_hashes as (

    {{ repeated_key_hashes('suspension_ids', 'suspension_id') }}

),

suspensions_routed as (

    select
        suspensions.*,
        suspensions.suspension_id is null or repeated_id_hashes.id_hash is not null as needs_comparing
    from suspensions
    left join repeated_id_hashes
        on {{ hash_of('suspensions.suspension_id') }} = repeated_id_hashes.id_hash

),

rows_to_compare as (

    select * from suspensions_routed
    where needs_comparing

),

single_rows as (

    -- the common case: an id delivered once is its own distinct row and first copy
    select
        {%- for column in distinct_row_columns %}
            {{ column }},
        {%- endfor %}
        delivery_id,
        file_line,
        1 as copies,
        false as has_conflicting_id
    from suspensions_routed
    where not needs_comparing

),

compared_rows as (

    -- each distinct row once with its copies; an id left with several versions is conflicting
    select
        {%- for column in distinct_row_columns %}
            {{ column }},
        {%- endfor %}
        delivery_id,
        file_line,
        copies,
        suspension_id is not null and count(*) over (partition by suspension_id) > 1 as has_conflicting_id
    from (
        {{ first_copies('rows_to_compare', distinct_row_columns) }}
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
            when distinct_rows.suspension_id is null then 'missing_suspension_id'
            when distinct_rows.has_conflicting_id then 'conflicting_duplicate_id'
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
        delivery_id,

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
        file_line,

        -- dates
        suspended_date,

        -- timestamps
        suspended_at,
        resumed_at
    from judged

)

select * from final
