{#-
    A build of D reads every rule seed at its latest version on or before D, and publishes the latest
    version registered on or before D as rule_version (int_rule_versions_resolved).  Both must hold:
    every rule seed has a version in force on D, and the newest of them is the registered one (a
    version registered without rows in any seed would name rules nobody scored with).  Returns the
    seeds without a version in force, or the two versions when they differ.
-#}
with

versions as (

    {{ rule_seed_versions() }}

),

in_force as (

    select
        seed_name,
        max(case when effective_from <= {{ as_of_date() }} then effective_from end) as effective_from
    from versions
    group by seed_name

),

resolved as (

    select rule_version from {{ ref('int_rule_versions_resolved') }}

),

final as (

    select
        in_force.seed_name,
        in_force.effective_from,
        'no version in force on the as-of date' as problem
    from in_force
    where in_force.effective_from is null

    union all

    select
        'every rule seed' as seed_name,
        max(in_force.effective_from) as effective_from,
        'the newest version in force is not the registered rule_version' as problem
    from in_force
    cross join resolved
    group by resolved.rule_version
    having max(in_force.effective_from) <> resolved.rule_version

)

select * from final
