{{ config(materialized='view') }}

{#-
    Which version of each rule seed a build of D reads (SPEC 8, macros/rules.sql): one row per rule
    seed with the first day of the version in force on D (null when none is: its not_null test fails
    the build).  The rule version of the scores is the latest of them.  A view over seeds of a few
    rows each.
-#}
with

versions as (

    {{ rule_seed_versions() }}

),

final as (

    select
        seed_name,
        max(case when effective_from <= {{ as_of_date() }} then effective_from end) as effective_from
    from versions
    group by seed_name

)

select * from final
