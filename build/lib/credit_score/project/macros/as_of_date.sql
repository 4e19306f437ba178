{#
    The as-of date D as a SQL date literal.  From the var `as_of_date` (YYYY-MM-DD), else the
    environment variable CREDIT_SCORE_AS_OF_DATE; when neither is set, the last day of the calendar
    month before the run started (UTC), which is SPEC's default.
#}
{% macro as_of_date_value() -%}
    {#- the var wins; credit-score build sets the environment variable instead, because a changed var
        makes dbt parse the whole project again, while an environment variable read only at run time
        makes it parse nothing -#}
    {%- set configured = var('as_of_date', none) -%}
    {%- if (configured is none or (configured | string | trim) == '') and execute -%}
        {#- only when dbt runs a node, never while it parses: dbt re-parses every file that read an
            environment variable at parse time whenever its value changes, and D changes each month
            (1.7 s of every build: the marts' YAML with its unit tests, eight SQL files).  Nothing
            parsed depends on D: every file is rendered again when it runs. -#}
        {%- set configured = env_var('CREDIT_SCORE_AS_OF_DATE', '') -%}
    {%- endif -%}
    {%- if configured is none or (configured | string | trim) == '' -%}
        {%- set first_of_month = run_started_at.date().replace(day=1) -%}
        {{- return((first_of_month - modules.datetime.timedelta(days=1)).isoformat()) -}}
    {%- endif -%}
    {%- set value = configured | string | trim -%}
    {%- if not modules.re.fullmatch('[0-9]{4}-[0-9]{2}-[0-9]{2}', value) -%}
        {{- exceptions.raise_compiler_error(
            "var as_of_date must be a date written YYYY-MM-DD, got '" ~ value ~ "'") -}}
    {%- endif -%}
    {{- return(value) -}}
{%- endmacro %}

{% macro as_of_date() -%}
    cast('{{ as_of_date_value() }}' as date)
{%- endmacro %}
