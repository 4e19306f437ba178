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

    select * from {{ ref('suspension_reasons') }}

),

scoring_parameters as (

    select * from {{ ref('scoring_parameters') }}

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

    select
        customers.customer_id,
        count(
            case when suspensions_in_lookback.is_penalised then 1 end
        ) as suspension_count,
        count(
            case when suspensions_in_lookback.is_unknown_reason then 1 end
        ) as unknown_reason_count
    from customers
    left join suspensions_in_lookback
        on customers.customer_id = suspensions_in_lookback.customer_id
    group by customers.customer_id

),

final as (

    select
        counted.customer_id,
        cast(counted.suspension_count as integer) as suspension_count,
        cast(counted.unknown_reason_count as integer) as unknown_reason_count,
        cast(
            counted.suspension_count * suspension_penalty.points_per_suspension as integer
        ) as suspension_points
    from counted
    cross join suspension_penalty

)

select * from final
