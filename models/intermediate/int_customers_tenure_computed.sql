{#- Each in-scope customer's full months and years on the network on the as-of date, and their points. -#}
with

customers as (

    select * from {{ ref('int_customers_in_scope') }}

),

tenure_bands as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('tenure_bands') }} as in_force

),

months_counted as (

    select
        *,
        {{ full_months_between('activation_date', 'as_of_date') }} as months_on_net
    from customers

),

years_counted as (

    select
        *,
        {{ integer_divide('months_on_net', 12) }} as tenure_years
    from months_counted

),

final as (

    select
        -- ids
        years_counted.customer_id,

        -- strings
        years_counted.msisdn_masked,
        years_counted.brand_code,
        years_counted.brand_name,
        tenure_bands.tenure_band,

        -- numbers
        years_counted.brand_points,
        cast(years_counted.months_on_net as integer) as months_on_net,
        cast(years_counted.tenure_years as integer) as tenure_years,
        tenure_bands.tenure_points,

        -- dates
        years_counted.activation_date,
        years_counted.as_of_date
    from years_counted
    left join tenure_bands
        on
            years_counted.tenure_years >= tenure_bands.min_years_inclusive
            and (
                tenure_bands.max_years_exclusive is null
                or years_counted.tenure_years < tenure_bands.max_years_exclusive
            )

)

select * from final
