{#-
    Average monthly spend of each in-scope customer over the spend window: the last complete
    calendar month and the (spend_window_months - 1) before it, counting only the months on or after
    the activation month.  A month without a bill counts as 0 spend.  The average's points come
    from the spend bands seed.
-#}
with

customers as (

    select * from {{ ref('int_customers_in_scope') }}

),

customer_months as (

    select * from {{ ref('int_customer_months_summed') }}

),

spend_bands as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('spend_bands') }} as in_force

),

spend_window as (

    select
        {{ add_months(last_complete_month_start(as_of_date()), 1 - var('spend_window_months')) }}
            as window_start_month,
        {{ last_complete_month_start(as_of_date()) }} as window_end_month

),

window_spend as (

    select
        customer_months.customer_id,
        cast(sum(customer_months.spend_fen) as {{ dbt.type_bigint() }}) as window_spend_fen
    from customer_months
    inner join spend_window
        on
            customer_months.bill_month between spend_window.window_start_month
            and spend_window.window_end_month
    group by customer_months.customer_id

),

activation_months as (

    select
        customers.customer_id,
        {{ month_start('customers.activation_date') }} as activation_month,
        spend_window.window_end_month,
        coalesce(window_spend.window_spend_fen, 0) as window_spend_fen
    from customers
    cross join spend_window
    left join window_spend
        on customers.customer_id = window_spend.customer_id

),

months_counted as (

    select
        customer_id,
        window_spend_fen,
        greatest(
            0,
            least(
                {{ var('spend_window_months') }},
                -- both are first days of months, so this counts calendar months between them
                {{ full_months_between('activation_month', 'window_end_month') }} + 1
            )
        ) as spend_months
    from activation_months

),

averaged as (

    select
        customer_id,
        spend_months,
        window_spend_fen,
        case
            when spend_months = 0 then cast(0 as decimal(18, 2))
            else {{ divide_fen_round_half_up('window_spend_fen', 'spend_months') }}
        end as avg_monthly_spend
    from months_counted

),

final as (

    select
        -- ids
        averaged.customer_id,

        -- numbers
        cast(averaged.spend_months as integer) as spend_months,
        {{ fen_to_yuan('averaged.window_spend_fen') }} as window_spend,
        averaged.avg_monthly_spend,
        spend_bands.spend_points
    from averaged
    left join spend_bands
        on
            (
                spend_bands.min_yuan_exclusive is null
                or averaged.avg_monthly_spend > spend_bands.min_yuan_exclusive
            )
            and (
                spend_bands.max_yuan_inclusive is null
                or averaged.avg_monthly_spend <= spend_bands.max_yuan_inclusive
            )

)

select * from final
