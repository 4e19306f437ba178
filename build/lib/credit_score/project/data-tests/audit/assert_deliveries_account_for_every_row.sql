{#
    Every delivery's rows are accepted, rejected or exact duplicates, per raw table: the duplicates
    (its rows that are not the first copy of a distinct row) can never be negative, and the register
    and the raw tables agree on which files a delivery held.  Returns the deliveries that do not
    add up.
#}
select
    delivery_id,
    subscriptions_duplicates,
    billing_duplicates,
    suspensions_duplicates
from {{ ref('deliveries') }}
where
    subscriptions_duplicates < 0
    or billing_duplicates < 0
    or suspensions_duplicates < 0
    or (subscriptions_rows > 0 and not has_subscriptions_file)
    or (billing_rows > 0 and not has_billing_file)
    or (suspensions_rows > 0 and not has_suspensions_file)
