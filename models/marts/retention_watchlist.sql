{{ config(grants=published_grants()) }}

{#-
    The retention team's list for the as-of date D (SPEC 7): the customers whose star on the previous
    as-of date (the latest earlier one in the history) was at least var watchlist_min_star and who
    now show a risk signal, in this order: left (scored then, not now; shown alone), star_down,
    spend_drop (the spend window's latest three months sum to less than (1 - var
    watchlist_spend_drop_share) times the three before, those being positive) and new_suspension
    (a penalised suspension after the previous date, up to D).  Ranked by the value at risk, twelve
    times the previous average monthly spend; ties by customer_id.  Empty when the history has no
    earlier date.  Read from the history alone: D's rows (written there first) and the previous date's.
-#}
{%- set half_months = spend_drop_half_months() -%}
{%- set around = history_dates_around(ref('customer_credit_score_history')) -%}
{%- set read_dates = [around['d'], around['previous']] | reject('none') | list %}

with

history as (

    -- D's rows are in the history already (it is built from the mart first, and tested equal to it);
    -- D and the date before it, named as literals: the other months are not read
    select * from {{ ref('customer_credit_score_history') }}
    where
        as_of_date <= {{ as_of_date() }}
        and {{ date_in('as_of_date', read_dates) if around['d'] else '1 = 1' }}

),

customer_months as (

    select * from {{ ref('int_customer_months_summed') }}

),

suspensions as (

    select * from {{ ref('int_suspensions_validated') }}
    where rejection_reason is null

),

suspension_reasons as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('suspension_reasons') }} as in_force

),

scores as (

    select * from history
    where as_of_date = {{ as_of_date() }}

),

previous_date as (

    select max(as_of_date) as previous_as_of_date from history
    where as_of_date < {{ as_of_date() }}

),

previously_valued as (

    -- the customers the list is about: at least watchlist_min_star on the previous date
    select history.*
    from history
    inner join previous_date
        on history.as_of_date = previous_date.previous_as_of_date
    where history.star_level >= {{ var('watchlist_min_star') }}

),

spend_months as (

    -- the spend window's latest six months, split into the latest three and the three before them
    select
        {{ add_months(last_complete_month_start(as_of_date()), -2 * half_months) }} as before_window,
        {{ add_months(last_complete_month_start(as_of_date()), -half_months) }} as last_of_first_three,
        {{ last_complete_month_start(as_of_date()) }} as window_end_month

),

spend_halves as (

    -- per candidate, the two halves' spend, in fen
    select
        customer_months.customer_id,
        sum(
            case
                when customer_months.bill_month > spend_months.last_of_first_three then customer_months.spend_fen
                else 0
            end
        ) as latest_three_months_fen,
        sum(
            case
                when customer_months.bill_month <= spend_months.last_of_first_three then customer_months.spend_fen
                else 0
            end
        ) as three_months_before_fen
    from customer_months
    inner join previously_valued
        on customer_months.customer_id = previously_valued.customer_id
    inner join spend_months
        on
            customer_months.bill_month > spend_months.before_window
            and customer_months.bill_month <= spend_months.window_end_month
    group by customer_months.customer_id

),

suspended_since as (

    -- candidates with a penalised suspension in (previous date, D]
    select distinct suspensions.customer_id
    from suspensions
    inner join previously_valued
        on suspensions.customer_id = previously_valued.customer_id
    left join suspension_reasons
        on suspensions.reason_code = suspension_reasons.reason_code
    where
        suspensions.suspended_date > previously_valued.as_of_date
        and suspensions.suspended_date <= {{ as_of_date() }}
        and {{ is_penalised('suspension_reasons.is_penalised') }}

),

signals as (

    select
        previously_valued.customer_id,
        -- today's number and brand; the previous date's for a customer who left
        case
            when scores.customer_id is null then previously_valued.msisdn_masked else scores.msisdn_masked
        end as msisdn_masked,
        case when scores.customer_id is null then previously_valued.brand_name else scores.brand_name end
            as brand_name,
        previously_valued.star_level as previous_star_level,
        scores.star_level,
        previously_valued.avg_monthly_spend as previous_avg_monthly_spend,
        scores.avg_monthly_spend,
        scores.customer_id is null as has_left,
        scores.customer_id is not null and scores.star_level < previously_valued.star_level as has_star_down,
        scores.customer_id is not null
        and coalesce(spend_halves.three_months_before_fen, 0) > 0
        and coalesce(spend_halves.latest_three_months_fen, 0)
        < spend_halves.three_months_before_fen * (1 - {{ var('watchlist_spend_drop_share') }}) as has_spend_drop,
        scores.customer_id is not null and suspended_since.customer_id is not null as has_new_suspension
    from previously_valued
    left join scores
        on previously_valued.customer_id = scores.customer_id
    left join spend_halves
        on previously_valued.customer_id = spend_halves.customer_id
    left join suspended_since
        on previously_valued.customer_id = suspended_since.customer_id

),

at_risk as (

    select
        *,
        concat_ws(
            ',',
            case when has_left then 'left' end,
            case when has_star_down then 'star_down' end,
            case when has_spend_drop then 'spend_drop' end,
            case when has_new_suspension then 'new_suspension' end
        ) as risk_signals,
        previous_avg_monthly_spend * 12 as value_at_risk_yuan
    from signals
    where has_left or has_star_down or has_spend_drop or has_new_suspension

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast({{ as_of_date() }} as date) as as_of_date,
        cast(msisdn_masked as {{ dbt.type_string() }}) as msisdn_masked,
        cast(brand_name as {{ dbt.type_string() }}) as brand_name,
        cast(previous_star_level as integer) as previous_star_level,
        cast(star_level as integer) as star_level,
        cast(previous_avg_monthly_spend as decimal(18, 2)) as previous_avg_monthly_spend,
        cast(avg_monthly_spend as decimal(18, 2)) as avg_monthly_spend,
        cast(risk_signals as {{ dbt.type_string() }}) as risk_signals,
        cast(value_at_risk_yuan as decimal(18, 2)) as value_at_risk_yuan,
        cast(
            row_number() over (order by value_at_risk_yuan desc, {{ byte_order('customer_id') }}) as integer
        ) as priority
    from at_risk

)

select * from final
