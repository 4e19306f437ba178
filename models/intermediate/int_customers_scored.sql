{{ config(materialized='view') }}

{#-
    Each in-scope customer's four parts and their points side by side (each part's points are
    assigned where the part is computed), the total and the star: the band of the star seed that
    holds it; then the score read aloud (SPEC 7) and what the next star needs.  A view: the mart, a
    contracted projection of it, is where the rows are written.
-#}
with

tenure as (

    select * from {{ ref('int_customers_tenure_computed') }}

),

spend as (

    select * from {{ ref('int_customers_spend_averaged') }}

),

suspensions as (

    select * from {{ ref('int_customers_suspensions_counted') }}

),

star_levels as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('star_levels') }} as in_force

),

parts_joined as (

    select
        tenure.customer_id,
        tenure.as_of_date,
        tenure.msisdn_masked,
        tenure.brand_code,
        tenure.brand_name,
        tenure.activation_date,
        tenure.months_on_net,
        tenure.tenure_years,
        tenure.tenure_band,
        spend.spend_months,
        spend.avg_monthly_spend,
        suspensions.suspension_count,
        tenure.brand_points,
        tenure.tenure_points,
        spend.spend_points,
        suspensions.suspension_points
    from tenure
    inner join spend
        on tenure.customer_id = spend.customer_id
    inner join suspensions
        on tenure.customer_id = suspensions.customer_id

),

totalled as (

    select
        *,
        brand_points + tenure_points + spend_points + suspension_points as credit_score
    from parts_joined

),

starred as (

    select
        totalled.*,
        star_levels.star_level,
        star_levels.star_label
    from totalled
    left join star_levels
        on
            (
                star_levels.min_score_inclusive is null
                or totalled.credit_score >= star_levels.min_score_inclusive
            )
            and (
                star_levels.max_score_exclusive is null
                or totalled.credit_score < star_levels.max_score_exclusive
            )

),

explained as (

    select
        starred.*,
        -- e.g. 全球通 +50 · 网龄3年 +200 · 月均¥156.30 +150 · 停机1次 -100 = 300 → 三星
        {{ dbt.concat([
            'starred.brand_name',
            "' '", signed_text('starred.brand_points'),
            "' · 网龄'", text_of('starred.tenure_years'), "'年 '", signed_text('starred.tenure_points'),
            "' · 月均¥'", text_of('cast(starred.avg_monthly_spend as decimal(18, 2))'),
            "' '", signed_text('starred.spend_points'),
            "' · 停机'", text_of('starred.suspension_count'), "'次 '", signed_text('starred.suspension_points'),
            "' = '", text_of('starred.credit_score'),
            "' → '", 'starred.star_label',
        ]) }} as score_explanation,
        -- null at the top star: there is no band above it
        next_star.star_label as next_star_label,
        next_star.min_score_inclusive - starred.credit_score as points_to_next_star
    from starred
    left join star_levels as next_star
        on starred.star_level + 1 = next_star.star_level

)

select * from explained
