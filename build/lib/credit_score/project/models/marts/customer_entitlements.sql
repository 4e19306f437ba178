{{ config(grants=published_grants()) }}

{#-
    What each scored customer is entitled to on the as-of date: the row of star_entitlements for
    the customer's star (SPEC 7).  Read by the billing system (the credit line decides when an
    arrears suspension happens) and the CRM.
-#}
with

scored as (

    select * from {{ ref('customer_credit_score') }}

),

star_entitlements as (

    select * from {{ ref('star_entitlements') }}

),

entitled as (

    select
        scored.customer_id,
        scored.as_of_date,
        scored.star_level,
        scored.star_label,
        star_entitlements.credit_limit_yuan,
        star_entitlements.points_multiplier,
        star_entitlements.grace_days_after_arrears,
        star_entitlements.free_sim_replacements_per_year,
        star_entitlements.has_priority_hotline,
        star_entitlements.complaint_response_hours
    from scored
    inner join star_entitlements
        on scored.star_level = star_entitlements.star_level

),

final as (

    select
        cast(customer_id as {{ dbt.type_string() }}) as customer_id,
        cast(as_of_date as date) as as_of_date,
        cast(star_level as integer) as star_level,
        cast(star_label as {{ dbt.type_string() }}) as star_label,
        cast(credit_limit_yuan as decimal(18, 2)) as credit_limit_yuan,
        cast(points_multiplier as decimal(6, 2)) as points_multiplier,
        cast(grace_days_after_arrears as integer) as grace_days_after_arrears,
        cast(free_sim_replacements_per_year as integer) as free_sim_replacements_per_year,
        cast(has_priority_hotline as boolean) as has_priority_hotline,
        cast(complaint_response_hours as integer) as complaint_response_hours
    from entitled

)

select * from final
