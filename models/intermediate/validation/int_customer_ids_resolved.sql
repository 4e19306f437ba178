{{
    config(
        materialized='incremental',
        incremental_strategy=incremental_strategy(),
        unique_key='customer_id',
        partition_by=incremental_partition_by('key_bucket'),
        on_schema_change='fail',
        post_hook=["{{ record_absorbed_deliveries() }}", "{{ drop_staged('rows') }}"],
    )
}}

{#-
    Each delivered customer id once, and whether any of its versions was accepted.  Incremental: a
    build looks again at the customers whose versions were judged since it last built, and stamps
    a customer anew (loaded_through) only when its acceptance changed: the bills and suspensions of
    exactly those customers are judged again.
-#}
with

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}
    where customer_id is not null

),

{% if is_incremental() -%}
previous as (

    select * from {{ this }}

),

judged_since as (

    select distinct customer_id from subscriptions
    where loaded_through > {{ absorbed_through() }}

),

{% endif -%}
resolved as (

    select
        subscriptions.customer_id,
        max(case when subscriptions.rejection_reason is null then 1 else 0 end) = 1 as has_accepted_version
    from subscriptions
    {%- if is_incremental() %}
    inner join judged_since
        on subscriptions.customer_id = judged_since.customer_id
    {%- endif %}
    group by subscriptions.customer_id

),

final as (

    select
        resolved.customer_id,
        resolved.has_accepted_version,
        {%- if is_incremental() %}
            case
                when previous.has_accepted_version = resolved.has_accepted_version then previous.loaded_through
                else {{ loaded_through() }}
            end as loaded_through
        {%- else %}
            {{ loaded_through() }} as loaded_through
        {%- endif %}{{ spark_key_bucket(key_hash('resolved.customer_id')) }}
    from resolved
    {%- if is_incremental() %}
    left join previous
        on resolved.customer_id = previous.customer_id
    {%- endif %}

)

select * from final
