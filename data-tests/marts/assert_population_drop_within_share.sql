{#
    SPEC 6: the population scored may not fall more than var max_population_drop_share (default 0.1)
    below that of the latest earlier as-of date in the history: such a fall means deliveries are
    missing, not customers.  A backfill of an earlier month has no earlier date to compare with.
    Returns one row with both populations when the fall is too large.
#}
{%- set around = history_dates_around(ref('customer_credit_score_history')) %}

with

scores as (

    select count(*) as customers_scored from {{ ref('customer_credit_score') }}

),

history as (

    -- the latest date before D, named as a literal: the other months are not read
    select as_of_date from {{ ref('customer_credit_score_history') }}
    where
        as_of_date < {{ as_of_date() }}
        and {{ date_in('as_of_date', [around['previous']] | reject('none') | list) if around['d'] else '1 = 1' }}

),

previous_date as (

    select max(as_of_date) as previous_as_of_date from history

),

previous_population as (

    select
        previous_date.previous_as_of_date,
        count(*) as previous_customers_scored
    from history
    inner join previous_date
        on history.as_of_date = previous_date.previous_as_of_date
    group by previous_date.previous_as_of_date

)

select
    previous_population.previous_as_of_date,
    previous_population.previous_customers_scored,
    scores.customers_scored
from previous_population
cross join scores
where
    scores.customers_scored
    < previous_population.previous_customers_scored * (1 - {{ var('max_population_drop_share') }})
