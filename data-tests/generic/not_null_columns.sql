{#
    None of the listed columns holds a null: a model's not_null tests in one query.  Returns a row
    per column that holds nulls, with how many rows hold one (macros/null_counts.sql: a filtered
    count per column where the engine skips null-free row groups, one pass on PostgreSQL).
    Why not a not_null test per column: each test is a query of its own, and on Spark a query costs
    about half a second whatever the data (docs/performance.md), so a model with five such columns
    paid five Spark jobs a build.  A single-column key is proven by primary_key (never null, never
    repeated, one query); the columns of a compound key (unique_combination_of_columns) are listed here.
#}
{% test not_null_columns(model, columns) %}

with

per_column as (

    {{ null_counts(model, columns) }}

)

select * from per_column
where null_rows > 0

{% endtest %}
