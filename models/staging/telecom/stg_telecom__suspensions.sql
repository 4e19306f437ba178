with

source as (

    select * from {{ source('telecom', 'suspensions') }}

),

cleaned as (

    select
        {{ clean_text('suspension_id') }} as suspension_id,
        {{ clean_text('customer_id') }} as customer_id,
        upper({{ clean_text('reason_code') }}) as reason_code,
        {{ clean_text('suspended_at') }} as suspended_at,
        {{ clean_text('resumed_at') }} as resumed_at
    from source

),

renamed as (

    select
        -- ids
        suspension_id,
        customer_id,

        -- strings
        reason_code,

        -- dates: the day of the suspension decides whether it is in the lookback window
        cast(cast(suspended_at as timestamp) as date) as suspended_date,

        -- timestamps
        cast(suspended_at as timestamp) as suspended_at,
        cast(resumed_at as timestamp) as resumed_at
    from cleaned

)

select * from renamed
