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

only_in_mart as (

    select * from scores
    except
    select * from history_month

),

only_in_history as (

    select * from history_month
    except
    select * from scores

)

select
    'missing from the history' as side,
    {{ columns | join(',\n    ') }}
from only_in_mart
union all
select
    'not in the mart' as side,
    {{ columns | join(',\n    ') }}
from only_in_history
