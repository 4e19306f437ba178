{#
    Each part of every customer's score is what the seeds give for the values shown beside it, and the
    score is their sum: brand points from the brand code, tenure points from the highest tenure band
    the years reach, spend points from the highest spend band the average is above, and the penalty
    times the suspension count.  Returns the customers where any part differs.
#}
with

scores as (

    select * from {{ ref('customer_credit_score') }}

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

scoring_parameters as (

    select * from {{ ref('scoring_parameters') }}

),

expected_brand as (

    select
        scores.customer_id,
        brands.brand_name,
        brands.brand_points
    from scores
    inner join brand_codes
        on scores.brand_code = brand_codes.brand_code
    inner join brands
        on brand_codes.brand_key = brands.brand_key

),

tenure_bands_reached as (

    select
        scores.customer_id,
        tenure_bands.tenure_points,
        row_number() over (
            partition by scores.customer_id
            order by tenure_bands.min_years_inclusive desc
        ) as rank_from_top
    from scores
    inner join tenure_bands
        on scores.tenure_years >= tenure_bands.min_years_inclusive

),

spend_bands_reached as (

    select
        scores.customer_id,
        spend_bands.spend_points,
        row_number() over (
            partition by scores.customer_id
            order by spend_bands.min_yuan_exclusive desc nulls last
        ) as rank_from_top
    from scores
    inner join spend_bands
        on
            spend_bands.min_yuan_exclusive is null
            or scores.avg_monthly_spend > spend_bands.min_yuan_exclusive

),

expected_tenure as (

    select * from tenure_bands_reached
    where rank_from_top = 1

),

expected_spend as (

    select * from spend_bands_reached
    where rank_from_top = 1

),

penalty as (

    select max(parameter_value) as points_per_suspension
    from scoring_parameters
    where parameter_name = 'suspension_penalty_points'

),

compared as (

    select
        scores.*,
        expected_brand.brand_name as expected_brand_name,
        expected_brand.brand_points as expected_brand_points,
        expected_tenure.tenure_points as expected_tenure_points,
        expected_spend.spend_points as expected_spend_points,
        scores.suspension_count * penalty.points_per_suspension as expected_suspension_points
    from scores
    cross join penalty
    left join expected_brand
        on scores.customer_id = expected_brand.customer_id
    left join expected_tenure
        on scores.customer_id = expected_tenure.customer_id
    left join expected_spend
        on scores.customer_id = expected_spend.customer_id

)

select
    customer_id,
    brand_code,
    tenure_years,
    months_on_net,
    avg_monthly_spend,
    suspension_count,
    brand_points,
    expected_brand_points,
    tenure_points,
    expected_tenure_points,
    spend_points,
    expected_spend_points,
    suspension_points,
    expected_suspension_points,
    credit_score
from compared
where
    expected_brand_points is null
    or brand_points <> expected_brand_points
    or brand_name <> expected_brand_name
    or expected_tenure_points is null
    or tenure_points <> expected_tenure_points
    or tenure_years * 12 > months_on_net
    or (tenure_years + 1) * 12 <= months_on_net
    or expected_spend_points is null
    or spend_points <> expected_spend_points
    or suspension_points <> expected_suspension_points
    or credit_score <> brand_points + tenure_points + spend_points + suspension_points
