{#-
    Text as delivered -> text without leading and trailing spaces, an empty string read as null.
    Only the ASCII space is trimmed, the same on every engine (DuckDB's one-argument trim() would
    also strip Unicode spaces, PostgreSQL's and Spark's do not).  Most values have no space to trim
    and are passed on as they are, without the copy a trim makes: 3x faster on 145 million bill ids.
-#}
{% macro clean_text(expression) -%}
    {%- set text = "cast(" ~ expression ~ " as " ~ dbt.type_string() ~ ")" -%}
    nullif(
        case
            when {{ text }} like ' %' or {{ text }} like '% ' then trim(both ' ' from {{ text }})
            else {{ text }}
        end,
        ''
    )
{%- endmacro %}


{#- True when the whole text matches the regular expression (false for null). -#}
{% macro matches_pattern(expression, pattern) -%}
    {{ return(adapter.dispatch('matches_pattern', 'credit_score')(expression, pattern)) }}
{%- endmacro %}

{% macro default__matches_pattern(expression, pattern) -%}
    coalesce(regexp_full_match({{ expression }}, '{{ pattern }}'), false)
{%- endmacro %}

{% macro postgres__matches_pattern(expression, pattern) -%}
    coalesce({{ expression }} ~ '^(?:{{ pattern }})$', false)
{%- endmacro %}

{% macro spark__matches_pattern(expression, pattern) -%}
    coalesce({{ expression }} rlike '^(?:{{ pattern }})$', false)
{%- endmacro %}


{#- True when the text is exactly 11 ASCII digits (a mainland mobile number). -#}
{% macro is_eleven_digits(expression) -%}
    {{ matches_pattern(expression, '[0-9]{11}') }}
{%- endmacro %}


{#- 13812341234 -> 138****1234; anything that is not 11 digits -> null. -#}
{% macro mask_msisdn(expression) -%}
    case
        when {{ is_eleven_digits(expression) }}
            then {{ dbt.concat([
                "substring(" ~ expression ~ ", 1, 3)",
                "'****'",
                "substring(" ~ expression ~ ", 8, 4)",
            ]) }}
    end
{%- endmacro %}


{#-
    A JSON object of (key, value expression) pairs, as text: the raw values kept in the audit.  Written
    out key by key, compact and in the given order, a null as `null`, so that every engine writes the
    same text (their own JSON builders differ in spacing, key order and whether nulls are kept).
-#}
{% macro json_object_text(pairs) -%}
    {%- set parts = ["'{'"] -%}
    {%- for key, value in pairs -%}
        {%- do parts.append("'" ~ ("" if loop.first else ",") ~ '"' ~ key ~ '":' ~ "'") -%}
        {%- do parts.append(json_value_text(value)) -%}
    {%- endfor -%}
    {%- do parts.append("'}'") -%}
    {{ dbt.concat(parts) }}
{%- endmacro %}


{#- A text value as JSON text: the string quoted and escaped, or null. -#}
{% macro json_value_text(expression) -%}
    {{ return(adapter.dispatch('json_value_text', 'credit_score')(expression)) }}
{%- endmacro %}

{% macro default__json_value_text(expression) -%}
    coalesce(cast(to_json({{ expression }}) as {{ dbt.type_string() }}), 'null')
{%- endmacro %}

{% macro postgres__json_value_text(expression) -%}
    coalesce(to_json({{ expression }})::text, 'null')
{%- endmacro %}

{#- Spark has no JSON for a lone value: the one element of a JSON array, brackets taken off. -#}
{% macro spark__json_value_text(expression) -%}
    regexp_extract(to_json(array({{ expression }})), '^\\[(.*)\\]$', 1)
{%- endmacro %}


{#- A value as text (the engine's own rendering: integers plainly, a decimal with its scale). -#}
{% macro text_of(expression) -%}
    cast({{ expression }} as {{ dbt.type_string() }})
{%- endmacro %}


{#- Points as signed text: +50, +0, -200 (SPEC 7's explanation). -#}
{% macro signed_text(expression) -%}
    {{ dbt.concat(["case when " ~ expression ~ " >= 0 then '+' else '' end", text_of(expression)]) }}
{%- endmacro %}
