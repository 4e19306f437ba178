{#
    Use a model's custom schema name as it is (`marts`, not `main_marts`): BI tools and analysts
    read `marts.customer_credit_score`, whatever the target's default schema.
#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
