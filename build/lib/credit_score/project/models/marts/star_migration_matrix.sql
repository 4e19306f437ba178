{{
    config(
        materialized='incremental',
        incremental_strategy=incremental_strategy(),
        unique_key='as_of_date',
        partition_by=incremental_partition_by('as_of_date'),
        on_schema_change='fail',
        grants=published_grants(),
    )
}}

{#-
    How many customers went from each star to each star, per as-of date of the history after its
    first (SPEC 7): from_star_level null = new customers, to_star_level null = customers who left.
    Only the pairs that occur.  Built from customer_star_changes one month at a time, as it is: the
    build's date and the next one.
-#}
with

star_changes as (

    select * from {{ ref('customer_star_changes') }}
    -- incremental: the dates customer_star_changes rewrote in this build
    where {{ build_and_next_date() if is_incremental() else '1 = 1' }}

),

final as (

    select
        cast(previous_star_level as integer) as from_star_level,
        cast(star_level as integer) as to_star_level,
        cast(count(*) as integer) as customers,
        -- last: Spark keeps a partition column at the end of the table
        cast(as_of_date as date) as as_of_date
    from star_changes
    group by as_of_date, previous_star_level, star_level

)

select * from final
