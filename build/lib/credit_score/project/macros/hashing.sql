{#- The routing hash of a key: a 64-bit hash of its text, 0 for a null key. -#}
{% macro key_hash(expression) -%}
    case when {{ expression }} is null then 0 else {{ hash_of(expression) }} end
{%- endmacro %}


{#- A 64-bit hash of a text value, for finding repeated keys cheaply (never trusted alone). -#}
{% macro hash_of(expression) -%}
    {{ return(adapter.dispatch('hash_of', 'credit_score')(expression)) }}
{%- endmacro %}

{% macro default__hash_of(expression) -%}
    hash({{ expression }})
{%- endmacro %}

{% macro postgres__hash_of(expression) -%}
    hashtextextended({{ expression }}, 0)
{%- endmacro %}

{% macro spark__hash_of(expression) -%}
    xxhash64({{ expression }})
{%- endmacro %}
