{{ config(grants=published_grants()) }}

{#-
    Every in-scope subscriber's credit score and star level on the as-of date: the contracted,
    published projection of int_customers_scored (the points and the star are assigned there), with
    the rule version they were computed under (int_rule_versions_resolved).
-#}
with

scored as (

    select * from {{ ref('int_customers_scored') }}

),

rule_version as (

    -- the latest registered version on or before D (one row)
    select rule_version from {{ ref('int_rule_versions_resolved') }}

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
        cast(tenure_band as {{ dbt.type_string() }}) as tenure_band,
        cast(spend_months as integer) as spend_months,
        cast(avg_monthly_spend as decimal(18, 2)) as avg_monthly_spend,
        cast(suspension_count as integer) as suspension_count,
        cast(brand_points as integer) as brand_points,
        cast(tenure_points as integer) as tenure_points,
        cast(spend_points as integer) as spend_points,
        cast(suspension_points as integer) as suspension_points,
        cast(credit_score as integer) as credit_score,
        cast(star_level as integer) as star_level,
        cast(star_label as {{ dbt.type_string() }}) as star_label,
        cast(score_explanation as {{ dbt.type_string() }}) as score_explanation,
        cast(next_star_label as {{ dbt.type_string() }}) as next_star_label,
        cast(points_to_next_star as integer) as points_to_next_star,
        -- the rules used (SPEC 8): named by the first day they are in force, one value per build
        cast((select rule_version.rule_version from rule_version) as date) as rule_version
    from scored

)

select * from final
