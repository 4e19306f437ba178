{#
    No id is accepted twice.  Checked where it can have changed: an incremental build writes back
    whole ids (every row of an id shares its key_hash), so a repeated accepted id involves a row the
    latest build wrote (the newest loaded_through).  Those rows' key hashes are counted among every
    accepted row (the narrow stored key_hash, not 145 million ids hashed on the fly), and the ids of
    the hashes carried more than once are compared exactly.  After a full build every row is the
    latest build's: one aggregate over every accepted row instead of a lookup (it spills to disk; a
    lookup of every key would not), macro accepted_ids_repeated.  Returns each id accepted more than
    once, with how often.
#}
{% test unique_among_accepted(model, column_name) %}

{%- set written = written_last(model) %}

with

{% if written['everything'] -%}
repeated as (

    -- every row was written by the latest build (a full build): over every accepted row
    {{ accepted_ids_repeated(model, column_name) }}

)
{%- else -%}
written_last as (

    -- the accepted rows the latest build wrote (its row groups are the table's last ones)
    select key_hash
    from {{ model }}
    where
        rejection_reason is null
        and loaded_through = {{ written['stamp'] }}

),

shared_hashes as (

    -- their key hashes that more than one accepted row carries: every row of an id shares its hash,
    -- so a repeated id is among them (with, rarely, two ids that share a hash).  Only the narrow
    -- hash column of every row is read, not the ids
    select key_hash
    from {{ model }}
    where
        rejection_reason is null
        and key_hash in (select written_last.key_hash from written_last)
    group by key_hash
    having count(*) > 1

),

repeated as (

    -- those hashes' ids, compared exactly (usually there are none to read)
    select
        {{ column_name }} as id,
        count(*) as occurrences
    from {{ model }}
    where
        rejection_reason is null
        and key_hash in (select shared_hashes.key_hash from shared_hashes)
    group by {{ column_name }}
    having count(*) > 1

)
{%- endif %}

select * from repeated

{% endtest %}
