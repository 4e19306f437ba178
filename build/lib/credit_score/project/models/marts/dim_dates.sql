{{ config(grants=published_grants()) }}

{#-
    One row per day from 2000-01-01 to 2040-12-31: MetricFlow's time spine (models/semantic/), the
    days a metric over time is laid on. dbt's own cross-database date_spine, so that every engine
    builds it alike.
-#}
with

days as (

    {{ dbt.date_spine('day', "cast('2000-01-01' as date)", "cast('2041-01-01' as date)") }}

),

final as (

    select cast(date_day as date) as date_day
    from days

)

select * from final
