{#
    Use a model's custom schema name as it is (`marts`, not `main_marts`): BI tools and analysts
    read `marts.customer_credit_score`, whatever the target's default schema.  The published schemas
    (var published_schemas) are built where published_schema_build_name says.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif custom_schema_name | trim in var('published_schemas') -%}
        {{ published_schema_build_name(custom_schema_name | trim) }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}


{#-
    Where a published schema is built.  DuckDB: in place (it builds in a work file and publishes a
    copy).  PostgreSQL and Spark, where BI reads the catalog dbt writes: in
    `<schema><unpublished_suffix>`, made what BI reads by credit-score build after every error-level
    test passed (write-audit-publish): PostgreSQL moves the tables in one transaction, Spark points a
    view of each published table at a snapshot of it (engines/spark.py).
-#}
{% macro published_schema_build_name(schema) -%}
    {{ return(adapter.dispatch('published_schema_build_name', 'credit_score')(schema)) }}
{%- endmacro %}

{% macro default__published_schema_build_name(schema) -%}
    {{ return(schema) }}
{%- endmacro %}

{% macro postgres__published_schema_build_name(schema) -%}
    {{ return(schema ~ var('unpublished_suffix')) }}
{%- endmacro %}

{% macro spark__published_schema_build_name(schema) -%}
    {{ return(schema ~ var('unpublished_suffix')) }}
{%- endmacro %}
