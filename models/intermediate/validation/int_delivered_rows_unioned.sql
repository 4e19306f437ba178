{{ config(materialized='view') }}

{#-
    The outcome of every distinct delivered row of the three tables on the as-of date, in one
    relation: what the audit models read (the quarantine, the rows waiting for their customer, and the
    accounting per delivery and per table).  Each validation model ends with the same outcome columns
    (delivered_row_outcome_columns); a row whose customer is not delivered yet is `waiting` or
    `unknown_customer` depending on the as-of date (outcome_on_as_of_date); validated_reason keeps
    the validation model's own reason, for filters that the tables' scans can apply.
-#}
{#- billing first: DuckDB sizes a hash aggregate over a union (the key test groups every row of this
    view) on the branch that comes first; after the small subscriptions branch it could not spill the
    bills that followed (out of memory at 300 MB on 7 million rows; billing first: 60 MB suffice) -#}
{%- set record_ids = {
    'billing': 'bill_id',
    'subscriptions': 'customer_id',
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
            {{ delivered_row_outcome_on_as_of_date() }},
            rejection_reason as validated_reason
        from {{ source_table }}
        {% if not loop.last %}
            union all
        {% endif %}
    {%- endfor %}

)

select * from unioned
