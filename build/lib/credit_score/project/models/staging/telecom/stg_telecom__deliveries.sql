{#- Every delivery loaded: its id, when it was delivered and loaded, and which of the three files it held. -#}
with

source as (

    select * from {{ source('telecom', 'deliveries') }}

),

final as (

    select
        -- ids
        delivery_id,

        -- booleans
        subscriptions_file is not null as has_subscriptions_file,
        billing_file is not null as has_billing_file,
        suspensions_file is not null as has_suspensions_file,

        -- dates
        delivered_on,

        -- timestamps
        loaded_at
    from source

)

select * from final
