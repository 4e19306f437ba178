{#-
    How many rows of a relation hold a null in each listed column: a row (column_name, null_rows)
    per column.  The generic test not_null_columns keeps the columns where null_rows > 0.
-#}
{% macro null_counts(relation, columns) -%}
    {{ return(adapter.dispatch('null_counts', 'credit_score')(relation, columns)) }}
{%- endmacro %}

{#- A filtered count per column, in one query: DuckDB and Spark skip every row group whose statistics
    say it holds no null, so a column without nulls costs nothing to read (1M bills: 1 ms for four
    columns, against 155 ms for one pass summing them). -#}
{% macro default__null_counts(relation, columns) -%}
    {%- for column in columns %}
    select
        '{{ column }}' as column_name,
        count(*) as null_rows
    from {{ relation }}
    where {{ column }} is null
    {{- ' union all' if not loop.last }}
    {%- endfor %}
{%- endmacro %}

{#- PostgreSQL keeps no such statistics and would scan the table once per column: one pass, each
    column's nulls summed, then a row per column. -#}
{% macro postgres__null_counts(relation, columns) -%}
    with

    counted as (

        select
            {%- for column in columns %}
            sum(case when {{ column }} is null then 1 else 0 end) as {{ column }}{{ ',' if not loop.last }}
            {%- endfor %}
        from {{ relation }}

    ),

    listed as (

        {%- for column in columns %}
        select '{{ column }}' as column_name{{ ' union all' if not loop.last }}
        {%- endfor %}

    )

    select
        listed.column_name,
        case listed.column_name
            {%- for column in columns %}
            when '{{ column }}' then counted.{{ column }}
            {%- endfor %}
        end as null_rows
    from counted
    cross join listed
{%- endmacro %}
