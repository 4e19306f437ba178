{#
    The mart holds exactly the population of SPEC 1 on its as-of date: every accepted customer active
    on that day once, and nobody else.  Returns the customers missing from, or extra in, the mart.
#}
with

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}
    where rejection_reason is null

),

scores as (

    select * from {{ ref('customer_credit_score') }}

),

in_scope as (

    select customer_id
    from subscriptions
    where
        activation_date <= {{ as_of_date() }}
        and (termination_date is null or termination_date > {{ as_of_date() }})

),

missing as (

    select
        in_scope.customer_id,
        'in scope but not scored' as problem
    from in_scope
    left join scores
        on in_scope.customer_id = scores.customer_id
    where scores.customer_id is null

),

extra as (

    select
        scores.customer_id,
        'scored but not in scope on ' || cast(scores.as_of_date as {{ dbt.type_string() }}) as problem
    from scores
    left join in_scope
        on scores.customer_id = in_scope.customer_id
    where in_scope.customer_id is null or scores.as_of_date <> {{ as_of_date() }}

)

select * from missing
union all
select * from extra
