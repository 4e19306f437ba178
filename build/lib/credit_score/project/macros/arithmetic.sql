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
    Integer fen divided by a positive integer, as yuan rounded to 2 places half away from zero
    (2000.5 fen -> 20.01, -2000.5 -> -20.01).  Done in integers: engines divide DECIMALs in binary
    floating point (DuckDB does), which is not exact enough for money.
-#}
{% macro divide_fen_round_half_up(fen, divisor) -%}
    {#- a whole number whatever the engine made of the sum (PostgreSQL's sum of bigints is numeric) -#}
    {%- set fen = "cast(" ~ fen ~ " as " ~ dbt.type_bigint() ~ ")" -%}
    {%- set quotient_fen = integer_divide("abs(" ~ fen ~ ") * 2 + (" ~ divisor ~ ")", "2 * (" ~ divisor ~ ")") -%}
    {{ fen_to_yuan("case when " ~ fen ~ " < 0 then -1 else 1 end * " ~ quotient_fen) }}
{%- endmacro %}


{#- Integer fen as yuan, DECIMAL(18, 2), exactly (a multiplication: no division, no float). -#}
{% macro fen_to_yuan(fen) -%}
    cast(cast({{ fen }} as decimal(18, 0)) * 0.01 as decimal(18, 2))
{%- endmacro %}
