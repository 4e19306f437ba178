{#
    Ordered by `order_by`, `column_name` never goes down: a higher band never earns fewer points.
    Returns the rows that earn less than the row before them.
#}
{% test values_never_decrease(model, column_name, order_by) %}

with

ordered as (

    select
        {{ column_name }} as current_value,
        lag({{ column_name }}) over (order by {{ order_by }} nulls first) as previous_value
    from {{ model }}

)

select * from ordered
where current_value < previous_value

{% endtest %}
