{#
    No two rows share the same values of all the listed columns (a compound key, e.g. one row per
    customer per as-of date).  Returns each repeated combination with how often it occurs.
    built_month_only: look only at the rows of the as-of date being built (a history table's new
    month), so the test costs one month whatever the history's length.
    written_last_only: look only at the combinations the latest build wrote (newest loaded_through),
    among every row: on an incremental model whose unique_key they are, a repeat involves a row the
    latest build wrote.  After a full build, every row, by a plain aggregate (macro written_last).
    narrow_by (with written_last_only): a column of the key with few values (a delivery id, a month),
    or a list of them: only the rows holding one of the values (combinations of values) the latest
    build wrote are looked at.  A list narrows a union by table and delivery: the bills written last
    are the newest delivery's, the subscriptions re-judged come from every delivery.
    newest_delivery_only: look only at the rows of the newest delivery loaded (staging: a key made
    of the delivery and something within it can only repeat inside one delivery), so the test costs
    one delivery whatever the history's length.
#}
{% test unique_combination_of_columns(
    model,
    combination_of_columns,
    built_month_only=false,
    written_last_only=false,
    newest_delivery_only=false,
    narrow_by=none
) %}

{%- set columns = combination_of_columns | join(', ') -%}
{#- after a full build every row was written last: the plain aggregate below covers them -#}
{%- set written = written_last(model) if written_last_only else {} -%}
{%- set lookup = written_last_only and not written['everything'] -%}
{#- narrow_by, one or more of the key's columns with few values (a delivery, a month, a table): a repeat
    of a combination the build wrote has the values the build wrote in those columns, so only the rows
    holding them are looked at, named as literals (the other row groups are skipped) -#}
{%- set narrow_columns = ([narrow_by] if narrow_by is string else narrow_by) if narrow_by else [] -%}
{%- set narrowed = [] -%}
{%- if lookup and narrow_columns and execute -%}
    {%- set narrowed = run_query(
        'select distinct ' ~ narrow_columns | join(', ') ~ ' from ' ~ model
        ~ ' where loaded_through = ' ~ written['stamp'] ~ ' order by ' ~ narrow_columns | join(', ')
    ).rows | list -%}
{%- endif %}

with

{% if lookup -%}
written_last as (

    -- the combinations the latest build wrote: the build side of the join below, the build's rows only
    select distinct {{ columns }}
    from {{ model }}
    where
        loaded_through = {{ written['stamp'] }}
        {%- if narrowed %}
        and {{ narrowed_to(narrow_columns, narrowed) }}
        {%- endif %}

),

{% endif -%}
keyed as (

    select
        {%- for column in combination_of_columns %}
        model_rows.{{ column }},
        {%- endfor %}
        count(*) as occurrences
    from {{ model }} as model_rows
    {%- if built_month_only %}
    where model_rows.as_of_date = {{ as_of_date() }}
    {%- elif lookup %}
    inner join written_last
        on
        {%- for column in combination_of_columns %}
            {{ 'and ' if not loop.first }}model_rows.{{ column }} = written_last.{{ column }}
        {%- endfor %}
    {%- if narrowed %}
    where {{ narrowed_to(narrow_columns, narrowed, 'model_rows.') }}
    {%- endif %}
    {%- elif newest_delivery_only %}
    where model_rows.delivery_id in (
        select delivery_id from {{ ref('stg_telecom__deliveries') }}
        where loaded_at = (select max(loaded_at) from {{ ref('stg_telecom__deliveries') }})
    )
    {%- endif %}
    group by {% for column in combination_of_columns %}model_rows.{{ column }}{{ ', ' if not loop.last }}{% endfor %}

)

select * from keyed
where occurrences > 1

{% endtest %}
