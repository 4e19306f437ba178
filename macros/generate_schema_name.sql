{#
    Use a model's custom schema name as it is (`marts`, not `main_marts`): BI tools and analysts
    read `marts.customer_credit_score`, whatever the target's default schema.  On PostgreSQL, where
    BI reads the same database dbt writes, marts and audit are built in `<schema>_unpublished` and
    moved into place in one transaction after every error-level test passed (write-audit-publish).
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- elif target.type == 'postgres' and custom_schema_name | trim in ('marts', 'audit') -%}
        {#- written here, published to `marts` / `audit` by credit-score build after the tests pass -#}
        {{ custom_schema_name | trim }}_unpublished
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
