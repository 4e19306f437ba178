{#
    The column is the model's key: no row without it, no value on two rows.  dbt's own `unique` and
    `not_null` prove the same in two queries; on Spark a query costs about half a second whatever
    the data (docs/performance.md), and on every engine a test is a dbt node with its own fixed cost,
    so a key is proven here by one aggregate.  SQL groups every null key into one group, so the nulls
    come back as one row (key_value null) with how many rows hold one; each repeated value comes back
    with how often it occurs.
#}
{% test primary_key(model, column_name) %}

select
    {{ column_name }} as key_value,
    count(*) as occurrences
from {{ model }}
group by {{ column_name }}
having count(*) > 1 or {{ column_name }} is null

{% endtest %}
