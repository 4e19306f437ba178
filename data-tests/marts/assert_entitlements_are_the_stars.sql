{#-
    Each scored customer has exactly one entitlements row, and it is the row of star_entitlements for
    the customer's star: a customer missing, doubled, or given another star's credit line or service.
-#}
with

scored as (

    select * from {{ ref('customer_credit_score') }}

),

entitlements as (

    select * from {{ ref('customer_entitlements') }}

),

star_entitlements as (

    select * from {{ ref('star_entitlements') }}

),

rows_per_customer as (

    select
        scored.customer_id,
        count(entitlements.customer_id) as entitlement_rows
    from scored
    left join entitlements
        on scored.customer_id = entitlements.customer_id
    group by scored.customer_id

),

missing_or_doubled as (

    select customer_id
    from rows_per_customer
    where entitlement_rows <> 1

),

not_the_stars as (

    select entitlements.customer_id
    from entitlements
    left join scored
        on entitlements.customer_id = scored.customer_id
    left join star_entitlements
        on scored.star_level = star_entitlements.star_level
    where
        scored.customer_id is null
        or star_entitlements.star_level is null
        or entitlements.star_level <> scored.star_level
        or entitlements.star_label <> scored.star_label
        or entitlements.as_of_date <> scored.as_of_date
        or entitlements.credit_limit_yuan <> star_entitlements.credit_limit_yuan
        or entitlements.points_multiplier <> star_entitlements.points_multiplier
        or entitlements.grace_days_after_arrears <> star_entitlements.grace_days_after_arrears
        or entitlements.free_sim_replacements_per_year <> star_entitlements.free_sim_replacements_per_year
        or entitlements.has_priority_hotline <> star_entitlements.has_priority_hotline
        or entitlements.complaint_response_hours <> star_entitlements.complaint_response_hours

),

failures as (

    select customer_id from missing_or_doubled
    union all
    select customer_id from not_the_stars

)

select * from failures
