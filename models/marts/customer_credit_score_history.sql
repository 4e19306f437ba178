{{
    config(
        materialized='incremental',
        incremental_strategy=incremental_strategy(),
        unique_key='as_of_date',
        partition_by=incremental_partition_by('as_of_date'),
        on_schema_change='fail',
        full_refresh=false,
        grants=published_grants(),
    )
}}

{#-
    Every month's scores kept: one row per customer per as-of date.  A build reads only the month it
    scores (the mart, already built for that as-of date) and replaces exactly that month here:
    delete+insert keyed on as_of_date (DuckDB, PostgreSQL) or a dynamic overwrite of the as_of_date
    partition (Spark).  The other months are neither read nor written.  full_refresh=false: a
    `dbt build --full-refresh` cannot wipe the months kept here; only dropping the table can.
-#}
with

scores as (

    select * from {{ ref('customer_credit_score') }}

),

final as (

    select
        customer_id,
        msisdn_masked,
        brand_code,
        brand_name,
        activation_date,
        months_on_net,
        tenure_years,
        spend_months,
        avg_monthly_spend,
        suspension_count,
        brand_points,
        tenure_points,
        spend_points,
        suspension_points,
        credit_score,
        star_level,
        star_label,
        rule_version,
        -- last: Spark keeps a partition column at the end of the table
        as_of_date
    from scores

)

select * from final
