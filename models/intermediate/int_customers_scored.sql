{{ config(materialized='view') }}

{#-
    Each in-scope customer's four parts and their points side by side (each part's points are
    assigned where the part is computed), the total and the star: the band of the star seed that
    holds it.  A view: the mart, a contracted projection of it, is where the rows are written.
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

    select * from {{ ref('star_levels') }}

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

)

select * from starred
