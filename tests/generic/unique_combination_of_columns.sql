{#
    No two rows share the same values of all the listed columns (a compound key, e.g. one row per
    customer per as-of date).  Returns each repeated combination with how often it occurs.
    built_month_only: look only at the rows of the as-of date being built (a history table's new
    month), so the test costs one month whatever the history's length.
#}
{% test unique_combination_of_columns(model, combination_of_columns, built_month_only=false) %}

with

keyed as (

    select
        {{ combination_of_columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    {%- if built_month_only %}
    where as_of_date = {{ as_of_date() }}
    {%- endif %}
    group by {{ combination_of_columns | join(', ') }}

)

select * from keyed
where occurrences > 1

{% endtest %}
