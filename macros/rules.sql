{#
    Rule versions (SPEC 8).  Each rule seed may hold several versions of its rows, each in force from
    the first day of a month, `effective_from`; a build of D reads, of every rule seed, the rows of
    the version in force on D: the latest effective_from on or before D.  With one version (the
    seeds as shipped, effective_from 1900-01-01) every build reads every row, as before versions.
    Resolved once per build: a scalar subquery over a seed of a few rows, never per row of history.
#}
{% macro rules_in_force(seed) -%}
    {%- set relation = ref(seed) -%}
    (
        select * from {{ relation }}
        where effective_from = (
            select max(effective_from) from {{ relation }}
            where effective_from <= {{ as_of_date() }}
        )
    )
{%- endmacro %}

{#- The seeds the score is computed from (star_entitlements says what a star gives: not versioned). -#}
{% macro rule_seeds() -%}
    {{ return(['brands', 'brand_codes', 'scoring_parameters', 'spend_bands', 'star_levels',
               'suspension_reasons', 'tenure_bands']) }}
{%- endmacro %}

{#- Every rule seed's rows as (seed_name, effective_from), one select per seed in a union: what the
    two tests that hold the seeds to the rule_versions register read. -#}
{% macro rule_seed_versions() -%}
    {% for seed in rule_seeds() -%}
        select distinct
            '{{ seed }}' as seed_name,
            effective_from
        from {{ ref(seed) }}
        {% if not loop.last %}union all{% endif %}
    {% endfor %}
{%- endmacro %}
