{#
    Each part of every customer's score is what the seeds give for the values shown beside it, and the
    score is their sum: brand points from the brand code, tenure points from the highest tenure band
    the years reach (and the years are the full years of the months on net), spend points from the
    highest spend band the average is above, and the penalty times the suspension count.

    Every distinct combination of a part's value and its points is checked once, with the number of
    customers who have it: the same promise for every customer, at the cost of a scan of the mart
    instead of a band join per customer (10 million customers: 17 s -> 2 s).  Returns each
    combination that differs: the part, the value, the points shown and expected, and how many
    customers have it.
#}
with

scores as (

    select * from {{ ref('customer_credit_score') }}

),

brand_codes as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('brand_codes') }} as in_force

),

brands as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('brands') }} as in_force

),

tenure_bands as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('tenure_bands') }} as in_force

),

spend_bands as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('spend_bands') }} as in_force

),

scoring_parameters as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('scoring_parameters') }} as in_force

),

brand_values as (

    select
        brand_code,
        brand_name,
        brand_points,
        count(*) as customers
    from scores
    group by brand_code, brand_name, brand_points

),

tenure_values as (

    select
        tenure_years,
        months_on_net,
        tenure_points,
        count(*) as customers
    from scores
    group by tenure_years, months_on_net, tenure_points

),

spend_values as (

    select
        avg_monthly_spend,
        spend_points,
        count(*) as customers
    from scores
    group by avg_monthly_spend, spend_points

),

suspension_values as (

    select
        suspension_count,
        suspension_points,
        count(*) as customers
    from scores
    group by suspension_count, suspension_points

),

total_values as (

    select
        brand_points,
        tenure_points,
        spend_points,
        suspension_points,
        credit_score,
        count(*) as customers
    from scores
    group by brand_points, tenure_points, spend_points, suspension_points, credit_score

),

expected_brand as (

    select
        brand_values.*,
        brands.brand_name as expected_brand_name,
        brands.brand_points as expected_brand_points
    from brand_values
    left join brand_codes
        on brand_values.brand_code = brand_codes.brand_code
    left join brands
        on brand_codes.brand_key = brands.brand_key

),

tenure_bands_reached as (

    select
        tenure_values.*,
        tenure_bands.tenure_points as expected_tenure_points,
        row_number() over (
            partition by tenure_values.tenure_years, tenure_values.months_on_net, tenure_values.tenure_points
            order by tenure_bands.min_years_inclusive desc
        ) as rank_from_top
    from tenure_values
    left join tenure_bands
        on tenure_values.tenure_years >= tenure_bands.min_years_inclusive

),

spend_bands_reached as (

    select
        spend_values.*,
        spend_bands.spend_points as expected_spend_points,
        row_number() over (
            partition by spend_values.avg_monthly_spend, spend_values.spend_points
            order by spend_bands.min_yuan_exclusive desc nulls last
        ) as rank_from_top
    from spend_values
    left join spend_bands
        on
            spend_bands.min_yuan_exclusive is null
            or spend_values.avg_monthly_spend > spend_bands.min_yuan_exclusive

),

penalty as (

    select max(parameter_value) as points_per_suspension
    from scoring_parameters
    where parameter_name = 'suspension_penalty_points'

),

brand_failures as (

    select
        'brand' as part,
        brand_code || ' ' || coalesce(brand_name, '(null)') as part_value,
        brand_points as points,
        expected_brand_points as expected_points,
        customers
    from expected_brand
    where
        expected_brand_points is null
        or brand_points <> expected_brand_points
        or brand_name <> expected_brand_name

),

tenure_failures as (

    select
        'tenure' as part,
        cast(tenure_years as {{ dbt.type_string() }}) || ' years, '
        || cast(months_on_net as {{ dbt.type_string() }}) || ' months' as part_value,
        tenure_points as points,
        expected_tenure_points as expected_points,
        customers
    from tenure_bands_reached
    where
        rank_from_top = 1
        and (
            expected_tenure_points is null
            or tenure_points <> expected_tenure_points
            or tenure_years * 12 > months_on_net
            or (tenure_years + 1) * 12 <= months_on_net
        )

),

spend_failures as (

    select
        'spend' as part,
        cast(avg_monthly_spend as {{ dbt.type_string() }}) as part_value,
        spend_points as points,
        expected_spend_points as expected_points,
        customers
    from spend_bands_reached
    where
        rank_from_top = 1
        and (expected_spend_points is null or spend_points <> expected_spend_points)

),

suspension_failures as (

    select
        'suspensions' as part,
        cast(suspension_values.suspension_count as {{ dbt.type_string() }}) as part_value,
        suspension_values.suspension_points as points,
        suspension_values.suspension_count * penalty.points_per_suspension as expected_points,
        suspension_values.customers
    from suspension_values
    cross join penalty
    where
        penalty.points_per_suspension is null
        or suspension_values.suspension_points
        <> suspension_values.suspension_count * penalty.points_per_suspension

),

total_failures as (

    select
        'total' as part,
        cast(brand_points as {{ dbt.type_string() }}) || ' + '
        || cast(tenure_points as {{ dbt.type_string() }}) || ' + '
        || cast(spend_points as {{ dbt.type_string() }}) || ' + '
        || cast(suspension_points as {{ dbt.type_string() }}) as part_value,
        credit_score as points,
        brand_points + tenure_points + spend_points + suspension_points as expected_points,
        customers
    from total_values
    where credit_score <> brand_points + tenure_points + spend_points + suspension_points

),

failures as (

    select * from brand_failures
    union all
    select * from tenure_failures
    union all
    select * from spend_failures
    union all
    select * from suspension_failures
    union all
    select * from total_failures

)

select * from failures
