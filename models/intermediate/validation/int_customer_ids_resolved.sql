{#- Each delivered customer id once, and whether any of its versions was accepted. -#}
with

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}

),

resolved as (

    select
        customer_id,
        max(case when rejection_reason is null then 1 else 0 end) = 1 as has_accepted_version
    from subscriptions
    where customer_id is not null
    group by customer_id

)

select * from resolved
