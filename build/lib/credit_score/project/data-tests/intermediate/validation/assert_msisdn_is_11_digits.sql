{{ config(severity='warn') }}
{#-
    Accepted customers whose number is not 11 digits: they are scored, with msisdn_masked null,
    but the CRM should fix the number.
-#}
select customer_id
from {{ ref('int_subscriptions_validated') }}
where rejection_reason is null and not has_valid_msisdn
