{#- Integer division of two non-negative integers, truncating: exact on every engine. -#}
{% macro integer_divide(numerator, denominator) -%}
    {{ return(adapter.dispatch('integer_divide', 'credit_score')(numerator, denominator)) }}
{%- endmacro %}

{% macro default__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) / ({{ denominator }}))
{%- endmacro %}

{% macro duckdb__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) // ({{ denominator }}))
{%- endmacro %}

{% macro spark__integer_divide(numerator, denominator) -%}
    (({{ numerator }}) div ({{ denominator }}))
{%- endmacro %}


{#-
    An amount in yuan (a DECIMAL with 2 places) divided by a positive integer, rounded to 2 places
    half away from zero (20.005 -> 20.01, -20.005 -> -20.01).  Done in integer fen: engines divide
    DECIMALs in binary floating point (DuckDB does), which is not exact enough for money.
-#}
{% macro divide_yuan_round_half_up(amount_yuan, divisor) -%}
    {%- set fen = "cast((" ~ amount_yuan ~ ") * 100 as " ~ dbt.type_bigint() ~ ")" -%}
    {%- set quotient_fen = integer_divide("abs(" ~ fen ~ ") * 2 + (" ~ divisor ~ ")", "2 * (" ~ divisor ~ ")") -%}
    cast(
        cast(
            case when {{ fen }} < 0 then -1 else 1 end * {{ quotient_fen }}
            as decimal(18, 0)
        ) * 0.01
        as decimal(18, 2)
    )
{%- endmacro %}

