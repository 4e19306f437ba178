{#- One integer part (year, month, day) of a date; extract() is the same on every engine. -#}
{% macro date_part_of(part, date_expression) -%}
    cast(extract({{ part }} from {{ date_expression }}) as integer)
{%- endmacro %}


{#- Full months from start_date to end_date, counted like an age (SPEC 1, months on net). -#}
{% macro full_months_between(start_date, end_date) -%}
    (
        ({{ date_part_of('year', end_date) }} - {{ date_part_of('year', start_date) }}) * 12
        + ({{ date_part_of('month', end_date) }} - {{ date_part_of('month', start_date) }})
        - case
            when {{ date_part_of('day', end_date) }} < {{ date_part_of('day', start_date) }} then 1
            else 0
        end
    )
{%- endmacro %}


{#- date_expression moved by a whole number of months, clamped to the month's end, as a date. -#}
{% macro add_months(date_expression, months) -%}
    cast({{ dbt.dateadd('month', months, date_expression) }} as date)
{%- endmacro %}


{#- The first day of the month of date_expression, as a date. -#}
{% macro month_start(date_expression) -%}
    cast({{ dbt.date_trunc('month', date_expression) }} as date)
{%- endmacro %}


{#-
    The first day of the last complete calendar month on as_of: as_of's own month when as_of is
    that month's last day, else the month before.  (The day after as_of is in the next month
    exactly when as_of is a month's last day.)
-#}
{% macro last_complete_month_start(as_of) -%}
    {{ add_months(month_start(dbt.dateadd('day', 1, as_of)), -1) }}
{%- endmacro %}

{#-
    SPEC 7's spend_drop compares the spend window's latest three months with the three before them:
    the half's length in months, refused at compile time when the spend window holds fewer than two.
-#}
{% macro spend_drop_half_months() -%}
    {%- set half = 3 -%}
    {%- if var('spend_window_months') < 2 * half -%}
        {{ exceptions.raise_compiler_error(
            "retention_watchlist: spend_drop compares the spend window's latest " ~ half ~ " months with the "
            ~ half ~ " before; var spend_window_months is " ~ var('spend_window_months') ~ ", fewer than " ~ 2 * half) }}
    {%- endif -%}
    {{ return(half) }}
{%- endmacro %}
