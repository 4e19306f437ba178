{#-
    Each scored customer has an entitlements row, nobody else has one, and it is the row of
    star_entitlements for the customer's star: a customer missing, extra, or given another star's
    credit line or service (a customer's second row is unique_customer_entitlements_customer_id's).
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

compared as (

    -- one join of the two marts (both sides spill), instead of counting rows per customer: a
    -- customer on one side only is missing or extra; a doubled row is unique_customer_entitlements'
    select coalesce(scored.customer_id, entitlements.customer_id) as customer_id
    from scored
    full outer join entitlements
        on scored.customer_id = entitlements.customer_id
    left join star_entitlements
        on scored.star_level = star_entitlements.star_level
    where
        scored.customer_id is null
        or entitlements.customer_id is null
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

)

select * from compared
