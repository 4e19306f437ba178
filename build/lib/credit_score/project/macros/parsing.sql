{#
    Text as delivered -> a typed value, or null when the text is not in the contract's form
    (SPEC 2).  A null result for non-null text is what staging reports as "unreadable".
#}

{#- YYYY-MM-DD and a real calendar day. -#}
{% macro parse_date(text) -%}
    case
        when {{ matches_pattern(text, '[0-9]{4}-[0-9]{2}-[0-9]{2}') }}
            then {{ safe_cast_to(text, 'date') }}
    end
{%- endmacro %}


{#- YYYY-MM-DD HH:MM:SS (a T instead of the space, and fractions of a second, are tolerated). -#}
{% macro parse_timestamp(text) -%}
    case
        when {{ matches_pattern(text, '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}([.][0-9]{1,6})?') }}
            then {{ safe_cast_to(text, dbt.type_timestamp()) }}
    end
{%- endmacro %}


{#- Yuan with at most 2 decimals and 10 integer digits (DECIMAL(12,2)); 1.005 is refused, not rounded. -#}
{% macro parse_amount(text) -%}
    case
        when {{ matches_pattern(text, '-?[0-9]{1,10}([.][0-9]{1,2})?') }}
            then cast({{ text }} as decimal(12, 2))
    end
{%- endmacro %}


{#-
    账期 in any of its three forms -> the first day of the month: YYYY-MM-DD (a real day), YYYY-MM, YYYYMM.
    The forms cannot both match one text, so the order only decides the cost: the usual form first
    (one pattern match for most bills instead of three).
-#}
{% macro parse_bill_month(text) -%}
    case
        when {{ matches_pattern(text, '[0-9]{4}-[0-9]{2}-[0-9]{2}') }}
            then {{ month_start(safe_cast_to(text, 'date')) }}
        when {{ matches_pattern(text, '[0-9]{4}-[0-9]{2}') }}
            then {{ safe_cast_to(dbt.concat([text, "'-01'"]), 'date') }}
        when {{ matches_pattern(text, '[0-9]{6}') }}
            then {{ safe_cast_to(dbt.concat(["substring(" ~ text ~ ", 1, 4)", "'-'", "substring(" ~ text ~ ", 5, 2)", "'-01'"]), 'date') }}
    end
{%- endmacro %}


{#- Cast that gives null instead of failing. -#}
{% macro safe_cast_to(expression, data_type) -%}
    {{ return(adapter.dispatch('safe_cast_to', 'credit_score')(expression, data_type)) }}
{%- endmacro %}

{% macro default__safe_cast_to(expression, data_type) -%}
    try_cast({{ expression }} as {{ data_type }})
{%- endmacro %}

{#- PostgreSQL has no try_cast: functions created by prepare_warehouse() (on-run-start). -#}
{% macro postgres__safe_cast_to(expression, data_type) -%}
    {%- if data_type | lower == 'date' -%}
        {{ target.schema }}.credit_score_try_date({{ expression }})
    {%- elif data_type | lower in ('timestamp', 'timestamp without time zone') -%}
        {{ target.schema }}.credit_score_try_timestamp({{ expression }})
    {%- else -%}
        {{ exceptions.raise_compiler_error("safe_cast_to: no PostgreSQL implementation for " ~ data_type) }}
    {%- endif -%}
{%- endmacro %}
