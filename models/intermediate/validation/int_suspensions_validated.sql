{{
    config(
        materialized='incremental',
        incremental_strategy=incremental_strategy(),
        unique_key='key_hash',
        partition_by=incremental_partition_by('key_bucket'),
        on_schema_change='fail',
        post_hook=["{{ record_absorbed_deliveries() }}", "{{ drop_staged('keys') }}", "{{ drop_staged('rows') }}"],
    )
}}

{#-
    Each distinct delivered suspension once, over the union of all deliveries: how many identical
    copies came, where its first copy came from (delivery, line) and why it cannot be used (null:
    accepted).  A suspension id delivered with different contents, in one delivery or in two, is
    rejected in every version.  An unknown reason code is not a rejection: it is scored (penalised)
    and warned about.

    Incremental (see delivered_rows_ctes): a build judges the new deliveries' suspensions, those
    already kept under the same ids, and those of the customers whose acceptance changed since.
-#}
with

customers as (

    select * from {{ ref('int_customer_ids_resolved') }}

),

{{ delivered_rows_ctes(
    staged=ref('stg_telecom__suspensions'),
    key='suspension_id',
    columns=[
        'suspension_id',
        'customer_id',
        'reason_code',
        'suspended_at_text',
        'resumed_at_text',
    ],
    carried=['suspended_at', 'resumed_at', 'suspended_date'],
    touched=keys_of_customers_resolved_since_last_build(),
) }},

judged as (

    select
        distinct_rows.*,
        case
            when distinct_rows.suspension_id is null then 'missing_suspension_id'
            when distinct_rows.latest_versions > 1 then 'conflicting_duplicate_id'
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
        key_hash,

        -- strings
        reason_code,
        suspended_at_text,
        resumed_at_text,

        -- dates
        suspended_date,

        -- timestamps
        suspended_at,
        resumed_at,

        -- outcome and bookkeeping (macros/delivered_rows.sql)
        {{ delivered_row_outcome([
            ('suspension_id', 'suspension_id'),
            ('customer_id', 'customer_id'),
            ('suspended_at', 'suspended_at_text'),
            ('resumed_at', 'resumed_at_text'),
            ('reason_code', 'reason_code'),
        ]) }}{{ spark_key_bucket('key_hash') }}  -- noqa: LT02
    from judged

)

select * from final
