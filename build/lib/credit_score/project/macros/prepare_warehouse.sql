{#
    What the warehouse needs before the models run (an on-run-start hook; the ledger of incremental
    builds is the next hook, macros/incremental.sql).  DuckDB and Spark: the target's own schema,
    where the ledger lives.  PostgreSQL:
    - try-cast functions, because PostgreSQL has no try_cast and staging must turn unreadable text
      into null instead of failing;
    - the BI reader role, allowed into the published schemas only.  SELECT on each published table
      comes from the models' `grants` config.
#}
{% macro prepare_warehouse() -%}
    {{ return(adapter.dispatch('prepare_warehouse', 'credit_score')()) }}
{%- endmacro %}

{% macro default__prepare_warehouse() -%}
    create schema if not exists {{ target.schema }}
{%- endmacro %}

{% macro postgres__prepare_warehouse() -%}
    {% for data_type in ['date', 'timestamp'] %}
        create or replace function {{ target.schema }}.credit_score_try_{{ data_type }}(value text)
        returns {{ data_type }}
        language plpgsql immutable as $body$
        begin
            return value::{{ data_type }};
        exception when others then
            return null;
        end
        $body$;
    {% endfor %}

    do $body$
    begin
        create role {{ var('bi_reader_role') }} login;
    exception when duplicate_object then
        null;
    end
    $body$;

    {% for schema in var('published_schemas') %}
        create schema if not exists {{ schema }};
        grant usage on schema {{ schema }} to {{ var('bi_reader_role') }};
    {% endfor %}
{%- endmacro %}


{#- Grants for a published model: SELECT for the BI reader role where the engine has roles. -#}
{% macro published_grants() -%}
    {{ return(adapter.dispatch('published_grants', 'credit_score')()) }}
{%- endmacro %}

{% macro default__published_grants() -%}
    {{ return({}) }}
{%- endmacro %}

{% macro postgres__published_grants() -%}
    {{ return({'select': [var('bi_reader_role')]}) }}
{%- endmacro %}
