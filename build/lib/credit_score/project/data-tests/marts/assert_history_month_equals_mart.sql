{#
    The history's rows for the as-of date just built are exactly the mart's rows: none missing, none
    extra, every column the history keeps equal (a rebuilt month is replaced, not added to).  Returns
    the rows that are on one side only, with the side they are on.
#}
{#- the history's columns as its contract declares them (models/marts/_marts__models.yml): the mart's
    but the explanation, which follows from them and the star seed -#}
{%- set columns = [] -%}
{%- if execute -%}
    {%- set history = graph.nodes.values()
        | selectattr('name', 'equalto', 'customer_credit_score_history') | first -%}
    {%- set columns = history.columns.keys() | list -%}
{%- endif -%}

with

scores as (

    select {{ columns | join(', ') }} from {{ ref('customer_credit_score') }}

),

history_month as (

    select {{ columns | join(', ') }} from {{ ref('customer_credit_score_history') }}
    where as_of_date = {{ as_of_date() }}

),

sides as (

    select
        {{ columns | join(',\n        ') }},
        1 as in_mart,
        0 as in_history
    from scores
    union all
    select
        {{ columns | join(',\n        ') }},
        0 as in_mart,
        1 as in_history
    from history_month

),

compared as (

    -- each distinct row once with the sides it is on (a grouping treats nulls alike, as EXCEPT does):
    -- one aggregate, which spills to disk, instead of two set differences held in memory
    select
        {{ columns | join(',\n        ') }},
        max(in_mart) as in_mart,
        max(in_history) as in_history
    from sides
    group by {{ columns | join(', ') }}

)

select
    case when in_history = 0 then 'missing from the history' else 'not in the mart' end as side,
    {{ columns | join(',\n    ') }}
from compared
where in_mart = 0 or in_history = 0
