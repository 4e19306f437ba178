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
    Where a published schema is built.  DuckDB and Spark: in place (DuckDB builds in a work file and
    publishes a copy; Spark's readers read the parquet files a build replaces).  PostgreSQL, where BI
    reads the database dbt writes: in `<schema><unpublished_suffix>`, moved into place in one
    transaction by credit-score build after every error-level test passed (write-audit-publish).
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
