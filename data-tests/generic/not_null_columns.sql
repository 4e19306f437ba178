{#
    None of the listed columns holds a null: a model's not_null tests in one read of it.  Returns a
    row per column that holds nulls, with how many rows hold one.
    Why not a not_null test per column: each test is a query of its own, and on Spark a query costs
    about half a second whatever the data (docs/performance.md), so a model with five such columns
    paid five reads and five Spark jobs a build.  Single-column keys keep dbt's own not_null beside
    unique; the columns of a compound key (unique_combination_of_columns) are listed here.
#}
{% test not_null_columns(model, columns) %}

with

counted as (

    -- the one read: each column's nulls
    select
        {%- for column in columns %}
        sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ ',' if not loop.last }}
        {%- endfor %}
    from {{ model }}

),

listed as (

    {%- for column in columns %}
    select '{{ column }}' as column_name{{ ' union all' if not loop.last }}
    {%- endfor %}

),

per_column as (

    select
        listed.column_name,
        case listed.column_name
            {%- for column in columns %}
            when '{{ column }}' then counted.{{ column }}
            {%- endfor %}
        end as null_rows
    from counted
    cross join listed

)

select * from per_column
where null_rows > 0

{% endtest %}
