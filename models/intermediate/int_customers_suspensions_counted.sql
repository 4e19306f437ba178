{#-
    Penalised suspensions of each in-scope customer whose day falls in the lookback window
    (as_of_date - suspension_lookback_months, as_of_date].  A reason code missing from the reasons
    seed is penalised unless the var penalise_unknown_suspension_reasons is false.  Each penalised
    one costs the points of scoring_parameters' suspension_penalty_points.
-#}
with

customers as (

    select * from {{ ref('int_customers_in_scope') }}

),

suspensions as (

    select * from {{ ref('int_suspensions_validated') }}
    where rejection_reason is null

),

suspension_reasons as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('suspension_reasons') }} as in_force

),

scoring_parameters as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('scoring_parameters') }} as in_force

),

suspension_penalty as (

    -- an aggregate: always one row, null (and caught by the not_null tests) if the seed lacks it
    select max(parameter_value) as points_per_suspension
    from scoring_parameters
    where parameter_name = 'suspension_penalty_points'

),

lookback as (

    select
        {{ add_months(as_of_date(), -var('suspension_lookback_months')) }} as lookback_start_date,
        {{ as_of_date() }} as lookback_end_date

),

suspensions_in_lookback as (

    select
        suspensions.customer_id,
        suspension_reasons.reason_code is null as is_unknown_reason,
        {{ is_penalised('suspension_reasons.is_penalised') }} as is_penalised
    from suspensions
    inner join lookback
        on
            suspensions.suspended_date > lookback.lookback_start_date
            and suspensions.suspended_date <= lookback.lookback_end_date
    left join suspension_reasons
        on suspensions.reason_code = suspension_reasons.reason_code

),

counted as (

    -- only the customers with a suspension in the lookback (a few in a hundred): an aggregate of their
    -- suspensions, not of every customer
    select
        customer_id,
        count(case when is_penalised then 1 end) as suspension_count,
        count(case when is_unknown_reason then 1 end) as unknown_reason_count
    from suspensions_in_lookback
    group by customer_id

),

final as (

    select
        customers.customer_id,
        cast(coalesce(counted.suspension_count, 0) as integer) as suspension_count,
        cast(coalesce(counted.unknown_reason_count, 0) as integer) as unknown_reason_count,
        cast(
            coalesce(counted.suspension_count, 0) * suspension_penalty.points_per_suspension as integer
        ) as suspension_points
    from customers
    left join counted
        on customers.customer_id = counted.customer_id
    cross join suspension_penalty

)

select * from final
