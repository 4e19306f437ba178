{#- The in-scope population on the as-of date, with its full months and years on the network. -#}
with

subscriptions as (

    select * from {{ ref('int_subscriptions_validated') }}
    where rejection_reason is null

),

in_scope as (

    select
        customer_id,
        msisdn_masked,
        brand_code,
        activation_date,
        {{ as_of_date() }} as as_of_date
    from subscriptions
    where
        activation_date <= {{ as_of_date() }}
        and (termination_date is null or termination_date > {{ as_of_date() }})

),

months_counted as (

    select
        *,
        {{ full_months_between('activation_date', 'as_of_date') }} as months_on_net
    from in_scope

),

final as (

    select
        -- ids
        customer_id,

        -- strings
        msisdn_masked,
        brand_code,

        -- numbers
        cast(months_on_net as integer) as months_on_net,
        cast({{ integer_divide('months_on_net', 12) }} as integer) as tenure_years,

        -- dates
        activation_date,
        as_of_date
    from months_counted

)

select * from final
