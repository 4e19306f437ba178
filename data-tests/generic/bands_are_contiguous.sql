{#
    A band seed covers its whole range once: ordered by their lower bounds, each band starts exactly
    where the one before it ends (no gap, no overlap), every band is non-empty, only the last band is
    open at the top, and the first band starts at `floor` (null: open at the bottom).
    version_column: a seed of rule versions (macros/rules.sql) holds these bands once per version.
    Returns the offending bands.
#}
{% test bands_are_contiguous(model, lower_column, upper_column, floor=none, version_column=none) %}

{%- set per_version = ('partition by ' ~ version_column ~ ' ') if version_column else '' %}

with

bands as (

    select
        {{ version_column ~ ',' if version_column }}
        {{ lower_column }} as lower_bound,
        {{ upper_column }} as upper_bound
    from {{ model }}

),

ordered as (

    select
        {{ version_column ~ ',' if version_column }}
        lower_bound,
        upper_bound,
        lag(upper_bound) over ({{ per_version }}order by lower_bound nulls first) as previous_upper_bound,
        row_number() over ({{ per_version }}order by lower_bound nulls first) as band_number,
        count(*) over ({{ per_version }}) as band_count
    from bands

),

problems as (

    select
        *,
        case
            when band_number = 1 and {% if floor is none %}lower_bound is not null
                {% else %}(lower_bound is null or lower_bound <> {{ floor }}){% endif %}
                then 'first band does not start at the floor'
            when band_number > 1 and lower_bound is null
                then 'more than one band is open at the bottom'
            when band_number > 1 and previous_upper_bound is null
                then 'a band above the top band'
            when band_number > 1 and lower_bound > previous_upper_bound
                then 'gap below this band'
            when band_number > 1 and lower_bound < previous_upper_bound
                then 'overlaps the band below'
            when band_number = band_count and upper_bound is not null
                then 'top band is closed: values above it have no band'
            when lower_bound >= upper_bound
                then 'empty band'
        end as problem
    from ordered

)

select * from problems
where problem is not null

{% endtest %}
