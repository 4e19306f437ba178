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
    How each customer's star moved from one as-of date of the history to the next (SPEC 7): for each
    date after the history's first, one row per customer scored on it or on the previous date (the
    latest earlier date in the history).  Built one month at a time, like the history: a build of D
    writes D's rows and those of the next date after D, whose previous date D may have just become
    (a month built late, or again).  The other months are neither read nor written.  A full refresh
    computes every date from the whole history: the same rows.
-#}
{#- incremental: the dates whose rows can change (D and the next date) and their previous dates -#}
{%- set around = history_dates_around(ref('customer_credit_score_history')) if is_incremental() else {} -%}
{%- set read_dates = around.values() | reject('none') | list %}

with

history as (

    select * from {{ ref('customer_credit_score_history') }}
    {%- if is_incremental() and around['d'] %}
    -- D, the date before it and the date after it: a literal list, so the other months are not read
    where {{ date_in('as_of_date', read_dates) }}
    {%- endif %}

),

history_dates as (

    -- each date with the rules it was scored under (one version per date)
    select
        as_of_date,
        max(rule_version) as rule_version
    from history
    group by as_of_date

),

dated as (

    -- each date with the latest earlier one
    select
        as_of_date,
        rule_version,
        lag(as_of_date) over (order by as_of_date) as previous_as_of_date,
        lag(rule_version) over (order by as_of_date) as previous_rule_version
    from history_dates

),

changed_dates as (

    select * from dated
    where
        previous_as_of_date is not null
        -- incremental: the build's date and the next one, the only dates whose previous date is at most D
        and {{ build_and_next_date() if is_incremental() else '1 = 1' }}

),

now_scored as (

    select
        history.*,
        changed_dates.previous_as_of_date,
        changed_dates.previous_rule_version
    from history
    inner join changed_dates
        on history.as_of_date = changed_dates.as_of_date

),

previously_scored as (

    -- the previous date's rows, under the date they are compared on
    select
        history.*,
        changed_dates.as_of_date as compared_on,
        changed_dates.rule_version as compared_under,
        changed_dates.previous_rule_version as compared_with
    from history
    inner join changed_dates
        on history.as_of_date = changed_dates.previous_as_of_date

),

compared as (

    select
        coalesce(now_scored.customer_id, previously_scored.customer_id) as customer_id,
        coalesce(now_scored.as_of_date, previously_scored.compared_on) as as_of_date,
        coalesce(now_scored.previous_as_of_date, previously_scored.as_of_date) as previous_as_of_date,
        previously_scored.star_level as previous_star_level,
        now_scored.star_level,
        case
            when previously_scored.customer_id is null then 'new'
            when now_scored.customer_id is null then 'left'
            when now_scored.star_level > previously_scored.star_level then 'up'
            when now_scored.star_level < previously_scored.star_level then 'down'
            else 'same'
        end as change_type,
        -- null when a side is missing (a new customer, one who left)
        now_scored.credit_score - previously_scored.credit_score as score_change,
        now_scored.brand_points - previously_scored.brand_points as brand_points_change,
        now_scored.tenure_points - previously_scored.tenure_points as tenure_points_change,
        now_scored.spend_points - previously_scored.spend_points as spend_points_change,
        now_scored.suspension_points - previously_scored.suspension_points as suspension_points_change,
        -- the rules of each side: a star that moved where they differ may have moved with the rules
        coalesce(now_scored.previous_rule_version, previously_scored.compared_with) as previous_rule_version,
        coalesce(now_scored.rule_version, previously_scored.compared_under) as rule_version
    from now_scored
    full outer join previously_scored
        on
            now_scored.customer_id = previously_scored.customer_id
            and now_scored.as_of_date = previously_scored.compared_on

),

final as (

    select
        cast(customer_id as {{ contract_text_type() }}) as customer_id,
        cast(previous_as_of_date as date) as previous_as_of_date,
        cast(previous_star_level as integer) as previous_star_level,
        cast(star_level as integer) as star_level,
        cast(change_type as {{ contract_text_type() }}) as change_type,
        cast(score_change as integer) as score_change,
        cast(brand_points_change as integer) as brand_points_change,
        cast(tenure_points_change as integer) as tenure_points_change,
        cast(spend_points_change as integer) as spend_points_change,
        cast(suspension_points_change as integer) as suspension_points_change,
        cast(previous_rule_version as date) as previous_rule_version,
        cast(rule_version as date) as rule_version,
        -- last: Spark keeps a partition column at the end of the table
        cast(as_of_date as date) as as_of_date
    from compared

)

select * from final
