{{ config(grants=published_grants()) }}

{#-
    Every in-scope subscriber's credit score and star level on the as-of date.  Each part's points
    come from a seed; the star is the band of the star seed that holds the total.
-#}
with

customers as (

    select * from {{ ref('int_customers_tenure_computed') }}

),

spend as (

    select * from {{ ref('int_customers_spend_averaged') }}

),

suspensions as (

    select * from {{ ref('int_customers_suspensions_counted') }}

),

brand_codes as (

    select * from {{ ref('brand_codes') }}

),

brands as (

    select * from {{ ref('brands') }}

),

tenure_bands as (

    select * from {{ ref('tenure_bands') }}

),

spend_bands as (

    select * from {{ ref('spend_bands') }}

),

star_levels as (

    select * from {{ ref('star_levels') }}

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

parts_scored as (

    select
        customers.customer_id,
        customers.as_of_date,
        customers.msisdn_masked,
        customers.brand_code,
        brands.brand_name,
        customers.activation_date,
        customers.months_on_net,
        customers.tenure_years,
        spend.spend_months,
        spend.avg_monthly_spend,
        suspensions.suspension_count,
        brands.brand_points,
        tenure_bands.tenure_points,
        spend_bands.spend_points,
        suspensions.suspension_count * suspension_penalty.points_per_suspension as suspension_points
    from customers
    inner join spend
        on customers.customer_id = spend.customer_id
    inner join suspensions
        on customers.customer_id = suspensions.customer_id
    cross join suspension_penalty
    left join brand_codes
        on customers.brand_code = brand_codes.brand_code
    left join brands
        on brand_codes.brand_key = brands.brand_key
    left join tenure_bands
        on
            customers.tenure_years >= tenure_bands.min_years_inclusive
            and (
                tenure_bands.max_years_exclusive is null
                or customers.tenure_years < tenure_bands.max_years_exclusive
            )
    left join spend_bands
        on
            (
                spend_bands.min_yuan_exclusive is null
                or spend.avg_monthly_spend > spend_bands.min_yuan_exclusive
            )
            and (
                spend_bands.max_yuan_inclusive is null
                or spend.avg_monthly_spend <= spend_bands.max_yuan_inclusive
            )

),

totalled as (

    select
        *,
        brand_points + tenure_points + spend_points + suspension_points as credit_score
    from parts_scored

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

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(msisdn_masked as {{ dbt.type_string() }}) as msisdn_masked,
        cast(brand_code as {{ dbt.type_string() }}) as brand_code,
        cast(brand_name as {{ dbt.type_string() }}) as brand_name,
        cast(activation_date as date) as activation_date,
        cast(months_on_net as integer) as months_on_net,
        cast(tenure_years as integer) as tenure_years,
        cast(spend_months as integer) as spend_months,
        cast(avg_monthly_spend as decimal(18, 2)) as avg_monthly_spend,
        cast(suspension_count as integer) as suspension_count,
        cast(brand_points as integer) as brand_points,
        cast(tenure_points as integer) as tenure_points,
        cast(spend_points as integer) as spend_points,
        cast(suspension_points as integer) as suspension_points,
        cast(credit_score as integer) as credit_score,
        cast(star_level as integer) as star_level,
        cast(star_label as {{ dbt.type_string() }}) as star_label
    from starred

)

select * from final
