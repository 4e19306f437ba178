{{ config(materialized='view') }}

{#-
    Who is scored: the customers in scope on the as-of date D (SPEC 1), activated on or before D and
    not terminated on or before D, from their accepted (latest) subscription version; with their
    brand's name and points from the brand seeds.  A view: three models read it, each once.
-#}
with

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}
    where rejection_reason is null

),

brand_codes as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('brand_codes') }} as in_force

),

brands as (

    -- the version in force on D (macros/rules.sql)
    select * from {{ rules_in_force('brands') }} as in_force

),

in_scope as (

    select
        customer_id,
        msisdn_masked,
        brand_code,
        activation_date,
        {{ as_of_date() }} as as_of_date
    from subscriptions
    where
        activation_date <= {{ as_of_date() }}
        and (termination_date is null or termination_date > {{ as_of_date() }})

),

final as (

    select
        -- ids
        in_scope.customer_id,

        -- strings
        in_scope.msisdn_masked,
        in_scope.brand_code,
        brands.brand_name,

        -- numbers
        brands.brand_points,

        -- dates
        in_scope.activation_date,
        in_scope.as_of_date
    from in_scope
    left join brand_codes
        on in_scope.brand_code = brand_codes.brand_code
    left join brands
        on brand_codes.brand_key = brands.brand_key

)

select * from final
