{{ config(materialized='view') }}

{#-
    The rule version a build of D scores under (SPEC 8, macros/rules.sql): the latest version
    registered in rule_versions on or before D (null when none is: its not_null test fails the
    build).  Every rule seed reads its own latest version on or before D (rules_in_force); the
    register names every seed's versions and each of its versions has rows in some seed
    (assert_rule_seeds_are_in_force), so this is the latest of the versions the seeds are read at.
    A view over a register of a few rows.
-#}
with

registered as (

    select * from {{ ref('rule_versions') }}

),

final as (

    select max(effective_from) as rule_version
    from registered
    where effective_from <= {{ as_of_date() }}

)

select * from final
