{#-
    Each distinct delivered subscription row once, over the union of all deliveries: how many
    identical copies came, where its first copy came from (delivery, line) and why it cannot be used
    (null: accepted).  When a customer is delivered in several versions, in one delivery or several,
    the one with the latest updated_at wins and the others are superseded; versions tied on the
    latest updated_at conflict and are all rejected.  The first reason that applies is given.
-#}
{#- the columns that make a row distinct: single rows and compared rows select them alike -#}
{%- set distinct_row_columns = [
    'customer_id',
    'msisdn_masked',
    'msisdn_hash',
    'brand_code',
    'activation_date_text',
    'termination_date_text',
    'updated_at_text',
    'has_valid_msisdn',
    'activation_date',
    'termination_date',
    'updated_at',
] %}

with

subscriptions as (

    select * from {{ ref('stg_telecom__subscriptions') }}

),

-- read again, ids alone, to find the repeated ones: so the parsed rows are materialised once
-- (subscriptions_routed, read by both paths below), not a second time for the hashes
subscription_ids as (

    select customer_id from {{ ref('stg_telecom__subscriptions') }}

),

brand_codes as (

    select * from {{ ref('brand_codes') }}

),

repeated_id_hashes as (

    -- customers delivered in more than one row (versions or copies): only they need ranking
    {{ repeated_key_hashes('subscription_ids', 'customer_id') }}

),

subscriptions_routed as (

    select
        subscriptions.*,
        subscriptions.customer_id is null or repeated_id_hashes.id_hash is not null as needs_comparing
    from subscriptions
    left join repeated_id_hashes
        on {{ hash_of('subscriptions.customer_id') }} = repeated_id_hashes.id_hash

),

rows_to_compare as (

    select * from subscriptions_routed
    where needs_comparing

),

compared_rows as (

    -- each distinct row once with its copies and first copy, its versions ranked by recency
    select
        {%- for column in distinct_row_columns %}
            {{ column }},
        {%- endfor %}
        delivery_id,
        file_line,
        copies,
        rank() over (
            partition by customer_id
            order by updated_at desc nulls last
        ) as recency_rank
    from (
        {{ first_copies('rows_to_compare', distinct_row_columns) }}
    ) as collapsed

),

compared_counted as (

    select
        *,
        sum(case when recency_rank = 1 then 1 else 0 end)
            over (partition by customer_id) as latest_version_count
    from compared_rows

),

single_rows as (

    -- the common case: a customer delivered once is its own only version and first copy
    select
        {%- for column in distinct_row_columns %}
            {{ column }},
        {%- endfor %}
        delivery_id,
        file_line,
        1 as copies,
        1 as recency_rank,
        1 as latest_version_count
    from subscriptions_routed
    where not needs_comparing

),

distinct_rows as (

    -- single_rows and compared_counted have the same columns in the same order
    select * from single_rows
    union all
    select * from compared_counted

),

versions_ranked as (

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
            when recency_rank > 1 then 'superseded'
            when latest_version_count > 1 then 'conflicting_versions'
            when activation_date_text is null then 'missing_activation_date'
            when activation_date is null then 'unreadable_activation_date'
            when termination_date_text is not null and termination_date is null
                then 'unreadable_termination_date'
            when updated_at_text is not null and updated_at is null then 'unreadable_updated_at'
            when brand_code is null then 'missing_brand_code'
            when not is_known_brand then 'unknown_brand_code'
            when termination_date < activation_date then 'termination_before_activation'
        end as rejection_reason
    from versions_ranked

),

final as (

    select
        -- ids
        customer_id,
        delivery_id,

        -- strings
        msisdn_masked,
        brand_code,
        rejection_reason,
        -- only where someone will read it: building JSON for every accepted row is most of the cost
        case when rejection_reason is not null then {{ json_object_text([
            ('customer_id', 'customer_id'),
            ('msisdn_masked', 'msisdn_masked'),
            ('brand_code', 'brand_code'),
            ('activation_date', 'activation_date_text'),
            ('termination_date', 'termination_date_text'),
            ('updated_at', 'updated_at_text'),
        ]) }} end as raw_values,

        -- numbers
        cast(copies as integer) as copies,
        file_line,

        -- booleans
        has_valid_msisdn,

        -- dates
        activation_date,
        termination_date,

        -- timestamps
        updated_at
    from judged

)

select * from final
