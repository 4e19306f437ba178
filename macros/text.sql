{#- Text as delivered -> trimmed text, with an empty string read as null. -#}
{% macro clean_text(expression) -%}
    nullif(trim(cast({{ expression }} as {{ dbt.type_string() }})), '')
{%- endmacro %}


{#- True when the text is exactly 11 ASCII digits (a mainland mobile number). -#}
{% macro is_eleven_digits(expression) -%}
    {{ return(adapter.dispatch('is_eleven_digits', 'credit_score')(expression)) }}
{%- endmacro %}

{% macro default__is_eleven_digits(expression) -%}
    coalesce(regexp_full_match({{ expression }}, '[0-9]{11}'), false)
{%- endmacro %}

{% macro postgres__is_eleven_digits(expression) -%}
    coalesce({{ expression }} ~ '^[0-9]{11}$', false)
{%- endmacro %}

{% macro spark__is_eleven_digits(expression) -%}
    coalesce({{ expression }} rlike '^[0-9]{11}$', false)
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
