{{
    config(
        materialized='incremental',
        incremental_strategy=incremental_strategy(),
        unique_key=['customer_id', 'bill_month'],
        partition_by=incremental_partition_by('bill_month'),
        on_schema_change='fail',
        post_hook=["{{ record_absorbed_deliveries() }}", "{{ drop_staged('rows') }}"],
    )
}}

{#-
    Accepted spend per customer and bill month, in integer fen: what the spend window reads (six
    narrow months instead of every bill).  A customer and month with bills but none accepted has a
    row with 0.  Incremental: a build sums again the customer-months of the bills judged since it
    last built (a late bill, a retracted one, the bills of a customer who has just arrived).
-#}
{#- the bill months the build's bills fall in: the only months whose sums can change -#}
{%- set touched_months = [] -%}
{%- if execute and is_incremental() -%}
    {%- set touched -%}
        select distinct bill_month from {{ ref('int_billing_validated') }}
        where bill_month is not null and loaded_through > {{ absorbed_through() }}
    {%- endset -%}
    {%- set touched_months = run_query(touched).columns[0].values() -%}
{%- endif %}

with

billing as (

    select * from {{ ref('int_billing_validated') }}
    where
        customer_id is not null
        and bill_month is not null
        -- incremental: a month no bill of this build falls in is not read (its row groups are skipped)
        and {{ date_in('bill_month', touched_months) if is_incremental() else '1 = 1' }}

),

{% if is_incremental() -%}
months_to_sum as (

    select distinct
        customer_id,
        bill_month
    from billing
    where loaded_through > {{ absorbed_through() }}

),

{% endif -%}
summed as (

    select
        billing.customer_id,
        billing.bill_month,
        sum(case when billing.rejection_reason is null then 1 else 0 end) as accepted_bills,
        sum(
            case
                when billing.rejection_reason is null then cast(billing.amount * 100 as {{ dbt.type_bigint() }})
                else 0
            end
        ) as spend_fen
    from billing
    {%- if is_incremental() %}
    inner join months_to_sum
        on
            billing.customer_id = months_to_sum.customer_id
            and billing.bill_month = months_to_sum.bill_month
    {%- endif %}
    group by billing.customer_id, billing.bill_month

),

final as (

    select
        -- ids
        customer_id,

        -- numbers
        cast(accepted_bills as integer) as accepted_bills,
        cast(spend_fen as {{ dbt.type_bigint() }}) as spend_fen,

        -- dates
        bill_month,

        -- timestamps
        {{ loaded_through() }} as loaded_through
    from summed

)

select * from final
