{#
    No two rows share the same values of all the listed columns (a compound key, e.g. one row per
    customer per as-of date).  Returns each repeated combination with how often it occurs.
    built_month_only: look only at the rows of the as-of date being built (a history table's new
    month), so the test costs one month whatever the history's length.
    written_last_only: look only at the combinations the latest build wrote (newest loaded_through),
    among every row: on an incremental model whose unique_key they are, a repeat involves a row the
    latest build wrote.  After a full build, every row.
    newest_delivery_only: look only at the rows of the newest delivery loaded (staging: a key made
    of the delivery and something within it can only repeat inside one delivery), so the test costs
    one delivery whatever the history's length.
#}
{% test unique_combination_of_columns(
    model,
    combination_of_columns,
    built_month_only=false,
    written_last_only=false,
    newest_delivery_only=false
) %}

with

keyed as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    {%- if built_month_only %}
    where as_of_date = {{ as_of_date() }}
    {%- elif written_last_only %}
    where ({{ combination_of_columns | join(', ') }}) in (
        select {{ combination_of_columns | join(', ') }} from {{ model }}
        where loaded_through = (select max(loaded_through) from {{ model }})
    )
    {%- elif newest_delivery_only %}
    where delivery_id in (
        select delivery_id from {{ ref('stg_telecom__deliveries') }}
        where loaded_at = (select max(loaded_at) from {{ ref('stg_telecom__deliveries') }})
    )
    {%- endif %}
    group by {{ combination_of_columns | join(', ') }}

)

select * from keyed
where occurrences > 1

{% endtest %}
