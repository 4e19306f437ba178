{#
    The mart holds exactly the population of SPEC 1 on its as-of date: every accepted customer active
    on that day once, and nobody else.  Returns the customers missing from, or extra in, the mart.

    One aggregate over both sides (each row tagged with the side it is on) rather than two anti-joins:
    a hash aggregate spills to disk, while two hash joins over every customer, run beside another
    customer-wide test on dbt's other thread, ran out of DuckDB's 4GB at 30 million customers
    (docs/performance.md).
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

sides as (

    select
        customer_id,
        1 as in_scope_rows,
        0 as scored_rows,
        cast(null as date) as scored_as_of_date
    from in_scope

    union all

    select
        customer_id,
        0 as in_scope_rows,
        1 as scored_rows,
        as_of_date as scored_as_of_date
    from scores

),

per_customer as (

    select
        customer_id,
        sum(in_scope_rows) as in_scope_rows,
        sum(scored_rows) as scored_rows,
        min(scored_as_of_date) as first_scored_as_of_date,
        max(scored_as_of_date) as last_scored_as_of_date
    from sides
    group by customer_id

),

final as (

    select
        customer_id,
        case
            when scored_rows = 0 then 'in scope but not scored'
            else 'scored but not in scope on ' || cast(
                case
                    when first_scored_as_of_date <> {{ as_of_date() }} then first_scored_as_of_date
                    else last_scored_as_of_date
                end as {{ dbt.type_string() }}
            )
        end as problem
    from per_customer
    where
        scored_rows = 0
        or in_scope_rows = 0
        or first_scored_as_of_date <> {{ as_of_date() }}
        or last_scored_as_of_date <> {{ as_of_date() }}

)

select * from final
