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
    Each distinct delivered subscription row once, over the union of all deliveries: how many
    identical copies came, where its first copy came from (delivery, line) and why it cannot be used
    (null: accepted).  When a customer is delivered in several versions, in one delivery or several,
    the one with the latest updated_at wins and the others are superseded; versions tied on the
    latest updated_at conflict and are all rejected.  The first reason that applies is given.

    Incremental (see delivered_rows_ctes): a build ranks the new deliveries' rows together with the
    versions already kept for the same customers.
-#}
with

brand_codes as (

    -- a code of any rule version is a known code (macros/rules.sql); which brand it earns is read
    -- from the version in force on the date scored (int_customers_in_scope)
    select distinct brand_code from {{ ref('brand_codes') }}

),

{{ delivered_rows_ctes(
    staged=ref('stg_telecom__subscriptions'),
    key='customer_id',
    columns=[
        'customer_id',
        'msisdn_masked',
        'msisdn_hash',
        'brand_code',
        'activation_date_text',
        'termination_date_text',
        'updated_at_text',
    ],
    carried=['has_valid_msisdn', 'activation_date', 'termination_date', 'updated_at'],
    rank_by='updated_at desc nulls last',
) }},

brands_checked as (

    select
        distinct_rows.*,
        brand_codes.brand_code is not null as is_known_brand
    from distinct_rows
    left join brand_codes
        on distinct_rows.brand_code = brand_codes.brand_code

),

judged as (

    select
        *,
        case
            when customer_id is null then 'missing_customer_id'
            when version_rank > 1 then 'superseded'
            when latest_versions > 1 then 'conflicting_versions'
            when activation_date_text is null then 'missing_activation_date'
            when activation_date is null then 'unreadable_activation_date'
            when termination_date_text is not null and termination_date is null
                then 'unreadable_termination_date'
            when updated_at_text is not null and updated_at is null then 'unreadable_updated_at'
            when brand_code is null then 'missing_brand_code'
            when not is_known_brand then 'unknown_brand_code'
            when termination_date < activation_date then 'termination_before_activation'
        end as rejection_reason
    from brands_checked

),

final as (

    select
        -- ids
        customer_id,
        delivery_id,
        key_hash,

        -- strings
        msisdn_masked,
        msisdn_hash,
        brand_code,
        activation_date_text,
        termination_date_text,
        updated_at_text,

        -- booleans
        has_valid_msisdn,

        -- dates
        activation_date,
        termination_date,

        -- timestamps
        updated_at,

        -- outcome and bookkeeping (macros/delivered_rows.sql)
        {{ delivered_row_outcome([
            ('customer_id', 'customer_id'),
            ('msisdn_masked', 'msisdn_masked'),
            ('brand_code', 'brand_code'),
            ('activation_date', 'activation_date_text'),
            ('termination_date', 'termination_date_text'),
            ('updated_at', 'updated_at_text'),
        ]) }}{{ spark_key_bucket('key_hash') }}  -- noqa: LT02
    from judged

)

select * from final
