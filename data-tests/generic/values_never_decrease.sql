{#
    Ordered by `order_by`, `column_name` never goes down: a higher band never earns fewer points.
    version_column: a seed of rule versions (macros/rules.sql) is ordered within each version.
    Returns the rows that earn less than the row before them.
#}
{% test values_never_decrease(model, column_name, order_by, version_column=none) %}

with

ordered as (

    select
        {{ version_column ~ ',' if version_column }}
        {{ column_name }} as current_value,
        lag({{ column_name }}) over ({{ 'partition by ' ~ version_column ~ ' ' if version_column }}order by {{ order_by }} nulls first) as previous_value
    from {{ model }}

)

select * from ordered
where current_value < previous_value

{% endtest %}
