{#
    No id is accepted twice.  Checked where it can have changed: an incremental build writes back
    whole ids (every row of an id shares its key_hash), so a repeated accepted id involves a row
    the latest build wrote (the newest loaded_through).  Those rows' ids are looked up among every
    accepted row by the stored key_hash (a fixed-width join, not a hash of 145 million ids computed
    on the fly), then compared exactly.  After a full build every row is the latest build's: one aggregate
    over the table (it spills to disk; a lookup of every key would not).  Returns each id accepted more than once, with how often.
#}
{% test unique_among_accepted(model, column_name) %}

{%- set written = written_last(model) %}

with

{% if written['everything'] -%}
repeated as (

    -- every row was written by the latest build (a full build): one aggregate over the table
    select
        {{ column_name }} as id,
        count(*) as occurrences
    from {{ model }}
    where rejection_reason is null
    group by {{ column_name }}
    having count(*) > 1

)
{%- else -%}
written_last as (

    select
        {{ column_name }} as id,
        key_hash
    from {{ model }}
    where
        rejection_reason is null
        and loaded_through = {{ written['stamp'] }}

),

accepted_same_hash as (

    select
        {{ column_name }} as id
    from {{ model }}
    where
        rejection_reason is null
        and key_hash in (select written_last.key_hash from written_last)

),

repeated as (

    select
        id,
        count(*) as occurrences
    from accepted_same_hash
    where id in (select written_last.id from written_last)
    group by id
    having count(*) > 1

)
{%- endif %}

select * from repeated

{% endtest %}
