-- The lower bound of `credit-score bench`: the mart computed by one hand-written DuckDB statement,
-- straight from the raw tables, the rules' numbers written into it from the seeds (as CASE
-- expressions: credit_score.bench.variants.bound_sql).  It does only what clean data needs (no
-- validation, no audit, no joins to seed tables): the least work that gives the mart's rows.
-- Parameters, filled in by credit_score.bench: {as_of} the as-of date D, {lookback_start} D minus
-- 12 months (out), {window_start} and {window_end} the first and last month (YYYY-MM) of the spend
-- window, {subscriptions} the subscription rows: raw.subscriptions when each customer came once, the
-- latest version of each when monthly deliveries brought a customer again (its termination);
-- {spend_window_months}, {free_reasons}, {penalty} and the {..._case} expressions: the rules.
with

customers as (

    select
        customer_id,
        msisdn,
        brand_code,
        cast(activation_date as date) as activation_date
    from {subscriptions}
    where
        cast(activation_date as date) <= date '{as_of}'
        and (termination_date is null or cast(termination_date as date) > date '{as_of}')

),

window_spend as (

    select
        customer_id,
        cast(sum(cast(amount as decimal(18, 2))) * 100 as bigint) as spend_fen
    from raw.billing
    where
        (case when length(bill_month) = 6 then left(bill_month, 4) || '-' || right(bill_month, 2) else left(bill_month, 7) end)
        between '{window_start}' and '{window_end}'
    group by customer_id

),

suspensions as (

    select
        customer_id,
        count(*) as suspension_count
    from raw.suspensions
    where
        left(suspended_at, 10) > '{lookback_start}'
        and left(suspended_at, 10) <= '{as_of}'
        and reason_code not in ({free_reasons})
    group by customer_id

),

counted as (

    select
        c.customer_id,
        c.msisdn,
        c.brand_code,
        c.activation_date,
        (year(date '{as_of}') - year(c.activation_date)) * 12 + month(date '{as_of}') - month(c.activation_date)
            - (case when day(date '{as_of}') < day(c.activation_date) then 1 else 0 end) as months_on_net,
        greatest(0, least({spend_window_months},
            (year(date '{window_end}-01') - year(c.activation_date)) * 12
            + month(date '{window_end}-01') - month(c.activation_date) + 1
        )) as spend_months,
        coalesce(w.spend_fen, 0) as spend_fen,
        coalesce(s.suspension_count, 0) as suspension_count
    from customers as c
    left join window_spend as w on c.customer_id = w.customer_id
    left join suspensions as s on c.customer_id = s.customer_id

),

averaged as (

    select
        *,
        months_on_net // 12 as tenure_years,
        case
            when spend_months = 0 then 0
            else sign(spend_fen) * ((abs(spend_fen) * 2 + spend_months) // (2 * spend_months))
        end as avg_fen
    from counted

),

scored as (

    select
        *,
        {brand_points_case} as brand_points,
        {tenure_points_case} as tenure_points,
        {spend_points_case} as spend_points,
        {penalty} * suspension_count as suspension_points
    from averaged

),

totalled as (

    select *, brand_points + tenure_points + spend_points + suspension_points as credit_score
    from scored

),

published as (

    select
        customer_id,
        date '{as_of}' as as_of_date,
        case
            when regexp_full_match(msisdn, '[0-9]{{11}}') then left(msisdn, 3) || '****' || right(msisdn, 4)
        end as msisdn_masked,
        brand_code,
        {brand_name_case} as brand_name,
        activation_date,
        cast(months_on_net as integer) as months_on_net,
        cast(tenure_years as integer) as tenure_years,
        {tenure_band_case} as tenure_band,
        cast(spend_months as integer) as spend_months,
        cast(cast(avg_fen as decimal(18, 0)) * 0.01 as decimal(18, 2)) as avg_monthly_spend,
        cast(suspension_count as integer) as suspension_count,
        brand_points,
        tenure_points,
        spend_points,
        cast(suspension_points as integer) as suspension_points,
        cast(credit_score as integer) as credit_score,
        {star_level_case} as star_level,
        {star_label_case} as star_label
    from totalled

)

-- SPEC 7: the score read aloud, and the next star (none above 五星)
select
    *,
    printf(
        '%s %+d · 网龄%d年 %+d · 月均¥%s %+d · 停机%d次 %+d = %d → %s',
        brand_name, brand_points, tenure_years, tenure_points, cast(avg_monthly_spend as varchar), spend_points,
        suspension_count, suspension_points, credit_score, star_label
    ) as score_explanation,
    {next_star_label_case} as next_star_label,
    cast({next_star_threshold_case} - credit_score as integer) as points_to_next_star,
    date '{rule_version}' as rule_version
from published
