{#
    SPEC 6: a build that scores nobody although accepted customers exist is wrong (an as-of date before
    every activation, or the subscriptions missing): it must not be published.  Returns one row
    saying how many customers were accepted when nobody was scored.
#}
with

scores as (

    select count(*) as customers_scored from {{ ref('customer_credit_score') }}

),

accepted as (

    select count(*) as accepted_customers
    from {{ ref('int_subscriptions_validated') }}
    where rejection_reason is null

)

select
    accepted.accepted_customers,
    scores.customers_scored,
    {{ as_of_date() }} as as_of_date
from scores
cross join accepted
where scores.customers_scored = 0 and accepted.accepted_customers > 0
