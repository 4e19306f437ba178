{{ config(materialized='view') }}

{#-
    The outcome of every distinct delivered row of the three tables, in one relation: what the audit
    models read (the quarantine, and the accounting per delivery and per table).  Each validation
    model ends with the same outcome columns (delivered_row_outcome_columns).
-#}
{%- set record_ids = {
    'subscriptions': 'customer_id',
    'billing': 'bill_id',
    'suspensions': 'suspension_id',
} %}

with

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}

),

billing as (

    select * from {{ ref('int_billing_validated') }}

),

suspensions as (

    select * from {{ ref('int_suspensions_validated') }}

),

unioned as (

    {% for source_table, record_id in record_ids.items() %}
        select
            '{{ source_table }}' as source_table,
            {{ record_id }} as record_id,
            customer_id,
            delivery_id,
            {{ delivered_row_outcome_columns() | join(',\n            ') }}
        from {{ source_table }}
        {% if not loop.last %}
            union all
        {% endif %}
    {%- endfor %}

)

select * from unioned
