{#-
    Every version of every rule seed (SPEC 8) begins on the first day of a month and is registered in
    rule_versions, with its note: a row without effective_from, or of a version nobody adopted, fails.
    One query over the seeds instead of two tests on each.  Returns the offending versions.
-#}
with

versions as (

    {{ rule_seed_versions() }}

),

registered as (

    select effective_from from {{ ref('rule_versions') }}

),

final as (

    select
        versions.seed_name,
        versions.effective_from,
        case
            when versions.effective_from is null then 'no effective_from'
            when {{ date_part_of('day', 'versions.effective_from') }} <> 1 then 'not the first day of a month'
            when registered.effective_from is null then 'not registered in rule_versions'
        end as problem
    from versions
    left join registered
        on versions.effective_from = registered.effective_from

)

select * from final
where problem is not null
