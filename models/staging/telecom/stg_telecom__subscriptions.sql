with

source as (

    select * from {{ source('telecom', 'subscriptions') }}

),

cleaned as (

    select
        {{ clean_text('customer_id') }} as customer_id,
        {{ clean_text('msisdn') }} as msisdn,
        upper({{ clean_text('brand_code') }}) as brand_code,
        {{ clean_text('activation_date') }} as activation_date,
        {{ clean_text('termination_date') }} as termination_date,
        {{ clean_text('updated_at') }} as updated_at
    from source

),

renamed as (

    select
        -- ids
        customer_id,

        -- strings: the raw number stops here; only its masked form goes on
        {{ mask_msisdn('msisdn') }} as msisdn_masked,
        brand_code,

        -- booleans
        {{ is_eleven_digits('msisdn') }} as has_valid_msisdn,

        -- dates
        cast(activation_date as date) as activation_date,
        cast(termination_date as date) as termination_date,

        -- timestamps
        cast(updated_at as timestamp) as updated_at
    from cleaned

)

select * from renamed
