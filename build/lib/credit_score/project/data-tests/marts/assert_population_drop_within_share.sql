{#
    SPEC 6: the population scored may not fall more than var max_population_drop_share (default 0.1)
    below what was published before for the same as-of date (a rebuild after a corrected delivery),
    nor below what was published for the nearest as-of date before it: such a fall means deliveries
    are missing, not customers.  What was published is read by the harness before dbt runs (dbt
    rewrites the date's month where it builds) and given as the environment variable
    CREDIT_SCORE_PUBLISHED_POPULATIONS: {"same": customers or null, "before": [date, customers] or
    null}; without it (dbt run by hand) there is nothing to compare with.
    Returns a row per published population the build's falls too far below.
#}
{#- read when the test runs, not while dbt parses (macros/as_of_date.sql says why) #}
{%- set published = (fromjson(env_var('CREDIT_SCORE_PUBLISHED_POPULATIONS', '{}')) or {}) if execute else {} %}
{%- set compared = [] %}
{%- if published.get('same') is not none %}
    {%- do compared.append(('the same as-of date', as_of_date_value(), published['same'])) %}
{%- endif %}
{%- if published.get('before') %}
    {%- do compared.append(('the nearest published date before', published['before'][0], published['before'][1])) %}
{%- endif %}

with

scores as (

    select count(*) as customers_scored from {{ ref('customer_credit_score') }}

),

published as (

    {% for what, day, customers in compared -%}
        select
            '{{ what }}' as compared_with,
            cast('{{ day }}' as date) as published_as_of_date,
            {{ customers }} as published_customers
        {% if not loop.last %}union all{% endif %}
    {% else -%}
        select
            cast(null as {{ dbt.type_string() }}) as compared_with,
            cast(null as date) as published_as_of_date,
            0 as published_customers
        from scores
        where 1 = 0
    {%- endfor %}

)

select
    published.compared_with,
    published.published_as_of_date,
    published.published_customers,
    scores.customers_scored
from published
cross join scores
where scores.customers_scored < published.published_customers * (1 - {{ var('max_population_drop_share') }})
