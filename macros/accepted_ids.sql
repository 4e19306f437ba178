{#-
    After a full build, the ids more than one accepted row of a validation model carries, with how
    often: the query of the generic test unique_among_accepted over every accepted row.
-#}
{% macro accepted_ids_repeated(model, column_name) -%}
    {{ return(adapter.dispatch('accepted_ids_repeated', 'credit_score')(model, column_name)) }}
{%- endmacro %}

{#- One aggregate over the ids (PostgreSQL, Spark).  On Spark the key hash's form below took longer
    (1M: 28.9-35.1 s against 26.2-29.2 s on one core): it reads the table twice and shuffles every
    accepted row for the join, not knowing the repeated hashes are few. -#}
{% macro default__accepted_ids_repeated(model, column_name) -%}
    select
        {{ column_name }} as id,
        count(*) as occurrences
    from {{ model }}
    where rejection_reason is null
    group by {{ column_name }}
    having count(*) > 1
{%- endmacro %}

{#- DuckDB: the key hashes more than one accepted row carries, by one aggregate over the narrow stored
    key_hash (every row of an id shares it), then only those rows' ids compared exactly, by a join
    (it spills, should a broken build repeat many).  Grouping the ids themselves, strings, took 3.6
    times as long (10M: 145 million bills, 46.8 s against 12.9 s). -#}
{% macro duckdb__accepted_ids_repeated(model, column_name) -%}
    select
        model_rows.{{ column_name }} as id,
        count(*) as occurrences
    from {{ model }} as model_rows
    inner join (
        select key_hash
        from {{ model }}
        where rejection_reason is null
        group by key_hash
        having count(*) > 1
    ) as shared_hashes
        on model_rows.key_hash = shared_hashes.key_hash
    where model_rows.rejection_reason is null
    group by model_rows.{{ column_name }}
    having count(*) > 1
{%- endmacro %}
